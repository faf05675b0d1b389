#!/usr/bin/env python3
"""Checks the MOD GUI of a built nam-graph.lv2 bundle against its Turtle and MOD's conventions
(standard library and serdi). Called by scripts/test-lv2.sh on the installed bundle and the MOD
bundle.

usage: scripts/check-modgui.py BUNDLE ART_DIR

For each plugin with a modgui:gui:
  - every file modgui.ttl names exists in the bundle, inside modgui:resourcesDirectory;
  - every modgui:port is an input control port of the plugin, and has a widget in the template;
  - every mod-port-symbol of the template is a port of the plugin (controls: input controls,
    shown on the GUI), every input-control-port widget is a modgui:port;
  - a custom-select widget offers exactly the port's scale points (values and labels);
  - the template has the bypass footswitch and light, a drag handle, the audio ports and a
    file selector (custom-select-path) for the path parameters, and the plugin has writable
    path parameters for models (nammodel) and cabinet IRs (cabsim); mustache sections balance;
  - every image the template and stylesheet use is /resources/NAME{{{ns}}} and exists;
  - every stylesheet rule is prefixed by the pedal's class, which the template's root carries;
  - the PNGs have the sizes the stylesheet gives (screenshot and face: the pedal; knob.png:
    frames of the knob's size), the thumbnail is 64 px high at most 256 wide, with the
    screenshot's proportions;
  - each knob sits on its slot of ART_DIR/face.svg (what the screenshots show).
Prints what it checked; exits 1 with every problem listed if one is found.
"""
import html.parser
import os
import re
import struct
import subprocess
import sys
import urllib.parse
import xml.etree.ElementTree as ET

LV2 = "http://lv2plug.in/ns/lv2core#"
MODGUI = "http://moddevices.com/ns/modgui#"
MOD = "http://moddevices.com/ns/mod#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
PATCH = "http://lv2plug.in/ns/ext/patch#"
ATOM_PATH = "http://lv2plug.in/ns/ext/atom#Path"
PPROP_NOT_ON_GUI = "http://lv2plug.in/ns/ext/port-props#notOnGUI"
PEDAL_CLASS = "nam-graph{{{cns}}}"
THUMBNAIL_MAX = (256, 64)

problems = []


def fail(msg):
    if msg not in problems:  # both plugins share the template and stylesheet: report once
        problems.append(msg)


def die(msg):
    print(f"error: check-modgui: {msg}", file=sys.stderr)
    sys.exit(1)


# --- Turtle, through serdi's N-Triples ---------------------------------------------------------
TRIPLE = re.compile(r'^(<[^>]*>|_:\S+) <([^>]*)> (<[^>]*>|_:\S+|"(?:[^"\\]|\\.)*"(?:\^\^<[^>]*>|@[\w-]+)?) \.$')


def term(text):
    if text.startswith("<"):
        return text[1:-1]
    if text.startswith('"'):
        return bytes(text[1:text.rindex('"')], "utf-8").decode("unicode_escape")
    return text


def load_graph(bundle):
    triples = []
    for name in sorted(os.listdir(bundle)):
        if not name.endswith(".ttl"):
            continue
        path = os.path.join(bundle, name)
        try:
            out = subprocess.run(["serdi", "-q", "-i", "turtle", "-o", "ntriples", "-p", name.replace(".", "_"),
                                  path, "file://" + urllib.parse.quote(path)],
                                 check=True, capture_output=True, text=True).stdout
        except FileNotFoundError:
            die("serdi not found (Debian's serdi)")
        except subprocess.CalledProcessError as e:
            die(f"{path} does not parse: {e.stderr.strip()}")
        for line in out.splitlines():
            m = TRIPLE.match(line)
            if not m:
                die(f"{path}: unexpected N-Triples line from serdi: {line}")
            triples.append((term(m.group(1)), m.group(2), term(m.group(3))))
    return triples


class Graph:
    def __init__(self, triples):
        self.triples = triples

    def objects(self, s, p):
        return [o for (ts, tp, o) in self.triples if ts == s and tp == p]

    def one(self, s, p):
        found = self.objects(s, p)
        return found[0] if len(found) == 1 else None

    def subjects(self, p, o):
        return [s for (s, tp, to) in self.triples if tp == p and to == o]


def file_path(uri):
    if not uri or not uri.startswith("file://"):
        return None
    return urllib.parse.unquote(uri[len("file://"):])


def control_inputs(g, plugin):
    """{symbol: port node} of the plugin's input control ports."""
    ports = {}
    for port in g.objects(plugin, LV2 + "port"):
        types = g.objects(port, RDF + "type")
        if LV2 + "ControlPort" in types and LV2 + "InputPort" in types:
            ports[g.one(port, LV2 + "symbol")] = port
    return ports


def all_symbols(g, plugin):
    return {g.one(port, LV2 + "symbol") for port in g.objects(plugin, LV2 + "port")}


def scale_points(g, port):
    return sorted((float(g.one(sp, RDF + "value")), g.one(sp, RDFS + "label"))
                  for sp in g.objects(port, LV2 + "scalePoint"))


# --- the template ----------------------------------------------------------------------------
class Template(html.parser.HTMLParser):
    """Elements with a mod-role, each with its attributes and the classes of its ancestors."""

    VOID = {"img", "br", "hr", "input", "meta", "link"}

    def __init__(self):
        super().__init__()
        self.stack = []
        self.roles = []  # (role, attrs, ancestors' classes, option texts, enclosing widget's symbol)
        self.images = []
        self.root_classes = None
        self.option = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if self.root_classes is None:
            self.root_classes = classes
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])
        role = attrs.get("mod-role")
        ancestors = [c for (_, cls, _) in self.stack for c in cls]
        owner = next((e[1].get("mod-port-symbol") for (_, _, e) in reversed(self.stack)
                      if e is not None and e[0] == "input-control-port"), None)
        entry = None
        if role:
            entry = (role, attrs, ancestors, [], owner)
            self.roles.append(entry)
            if role == "enumeration-option":
                self.option = entry
        if tag not in self.VOID:
            self.stack.append((tag, classes, entry))

    def handle_endtag(self, tag):
        while self.stack:
            t, _, entry = self.stack.pop()
            if entry is not None and entry is self.option:
                self.option = None
            if t == tag:
                break

    def handle_data(self, data):
        if self.option is not None:
            self.option[3].append(data)


def check_mustache(text, where):
    stack = []
    for m in re.finditer(r"{{([#^/])\s*([^}]+?)\s*}}", text):
        kind, name = m.groups()
        if kind in "#^":
            stack.append(name)
        elif not stack or stack.pop() != name:
            fail(f"{where}: mustache section {{{{/{name}}}}} closes nothing open")
    if stack:
        fail(f"{where}: mustache sections left open: {stack}")


def png_size(path):
    try:
        with open(path, "rb") as f:
            head = f.read(24)
    except OSError as e:
        fail(f"{path}: {e.strerror}")
        return None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        fail(f"{path}: not a PNG")
        return None
    return struct.unpack(">II", head[16:24])


# --- the stylesheet --------------------------------------------------------------------------
def css_rules(text):
    """[(selectors, {property: value})] of a flat stylesheet (no @media)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    rules = []
    for m in re.finditer(r"([^{}]+){([^{}]*)}", text.replace("{{{cns}}}", "\0cns\0").replace("{{{ns}}}", "\0ns\0")):
        selectors = [s.strip().replace("\0cns\0", "{{{cns}}}") for s in m.group(1).split(",")]
        props = {}
        for decl in m.group(2).split(";"):
            if ":" in decl:
                k, v = decl.split(":", 1)
                props[k.strip()] = v.strip().replace("\0ns\0", "{{{ns}}}")
        rules.append((selectors, props))
    return rules


def px(value, what):
    m = re.fullmatch(r"(-?[0-9.]+)px", value or "")
    if not m:
        fail(f"stylesheet: {what} is '{value}', expected a size in px")
        return None
    return float(m.group(1))


def rule(rules, selector):
    for selectors, props in rules:
        if selector in selectors:
            return props
    fail(f"stylesheet: no rule for '{selector}'")
    return {}


def face_slots(art_dir):
    path = os.path.join(art_dir, "face.svg")
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        die(f"{path}: {e}")
    slots = {}
    for el in root.iter():
        ident = el.get("id") or ""
        m = re.fullmatch(r"translate\(\s*(-?[0-9.]+)\s*,\s*(-?[0-9.]+)\s*\)", el.get("transform") or "")
        if ident.startswith("slot-") and m:
            slots[ident[5:]] = (float(m.group(1)), float(m.group(2)))
    return slots


# --- one plugin's GUI ------------------------------------------------------------------------
def check_plugin(g, plugin, art_dir, checked_files):
    guis = g.objects(plugin, MODGUI + "gui")
    if len(guis) != 1:
        fail(f"<{plugin}>: {len(guis)} modgui:gui, expected 1")
        return
    gui = guis[0]
    res = file_path(g.one(gui, MODGUI + "resourcesDirectory"))
    if not res or not os.path.isdir(res):
        fail(f"<{plugin}>: modgui:resourcesDirectory {res} is not a folder of the bundle")
        return
    files = {}
    for prop, required in (("iconTemplate", True), ("stylesheet", True), ("screenshot", True),
                           ("thumbnail", True), ("javascript", False), ("settingsTemplate", False)):
        values = g.objects(gui, MODGUI + prop)
        if not values:
            if required:
                fail(f"<{plugin}>: no modgui:{prop}")
            continue
        path = file_path(values[0])
        if len(values) > 1 or not path:
            fail(f"<{plugin}>: modgui:{prop} must be one file of the bundle, got {values}")
        elif not os.path.isfile(path):
            fail(f"<{plugin}>: modgui:{prop} {path} does not exist in the bundle")
        elif os.path.commonpath([res, os.path.abspath(path)]) != os.path.abspath(res):
            fail(f"<{plugin}>: modgui:{prop} {path} is outside modgui:resourcesDirectory {res}")
        else:
            files[prop] = path
            checked_files.add(path)
    for prop in ("brand", "label"):
        if not g.one(gui, MODGUI + prop):
            fail(f"<{plugin}>: no modgui:{prop}")
    if "iconTemplate" not in files or "stylesheet" not in files:
        return

    controls = control_inputs(g, plugin)
    symbols = all_symbols(g, plugin)
    gui_ports = {}
    for gp in g.objects(gui, MODGUI + "port"):
        sym, idx = g.one(gp, LV2 + "symbol"), g.one(gp, LV2 + "index")
        if sym not in controls:
            fail(f"<{plugin}>: modgui:port '{sym}' is not an input control port of the plugin")
        gui_ports[sym] = int(idx) if idx is not None else None
    if sorted(i for i in gui_ports.values() if i is not None) != list(range(len(gui_ports))):
        fail(f"<{plugin}>: modgui:port indices {sorted(gui_ports.values(), key=str)} are not 0..{len(gui_ports) - 1}")

    with open(files["iconTemplate"], encoding="utf-8") as f:
        template_text = f.read()
    check_mustache(template_text, files["iconTemplate"])
    t = Template()
    t.feed(template_text)
    if PEDAL_CLASS not in (t.root_classes or []):
        fail(f"{files['iconTemplate']}: the root element lacks the class {PEDAL_CLASS}")
    roles = {}
    for role, attrs, ancestors, texts, owner in t.roles:
        roles.setdefault(role, []).append((attrs, ancestors, texts, owner))
    for needed in ("bypass", "bypass-light", "drag-handle", "input-audio-port", "output-audio-port",
                   "input-parameter", "input-parameter-value"):
        if needed not in roles:
            fail(f"{files['iconTemplate']}: no element with mod-role=\"{needed}\"")
    for role, items in roles.items():
        for attrs, ancestors, _, _ in items:
            sym = attrs.get("mod-port-symbol")
            if sym is None or "{{" in sym:
                continue
            if role.startswith("input-control") and (sym not in controls or
                                                     PPROP_NOT_ON_GUI in g.objects(controls[sym], LV2 + "portProperty")):
                fail(f"{files['iconTemplate']}: {role} '{sym}' is not an input control port shown on GUIs")
            elif sym not in symbols:
                fail(f"{files['iconTemplate']}: {role} '{sym}' is not a port of <{plugin}>")
    widgets = {}
    for attrs, ancestors, _, _ in roles.get("input-control-port", []):
        widgets[attrs.get("mod-port-symbol")] = (attrs, ancestors)
    if set(widgets) != set(gui_ports):
        fail(f"{files['iconTemplate']}: widgets for {sorted(widgets)}, modgui:port lists {sorted(gui_ports)}")
    for sym, (attrs, _) in widgets.items():
        if attrs.get("mod-widget") == "custom-select" and sym in controls:
            offered = sorted((float(a["mod-port-value"]), "".join(txt).strip())
                             for (a, _, txt, owner) in roles.get("enumeration-option", []) if owner == sym)
            wanted = scale_points(g, controls[sym])
            if offered != wanted:
                fail(f"{files['iconTemplate']}: the selector of '{sym}' offers {offered}, its scale points are {wanted}")
    if not re.search(r"{{#effect\.parameters}}\s*{{#path}}.*mod-widget=\"custom-select-path\".*{{#files}}.*{{/files}}"
                     r".*{{/path}}\s*{{/effect\.parameters}}", template_text, re.S):
        fail(f"{files['iconTemplate']}: no custom-select-path file selector looping over effect.parameters' paths and files")
    writable = g.objects(plugin, PATCH + "writable")
    path_types = set()
    for p in writable:
        if g.one(p, RDFS + "range") == ATOM_PATH:
            path_types.update((g.one(p, MOD + "fileTypes") or "").split(","))
    for kind in ("nammodel", "aidadspmodel", "cabsim"):
        if kind not in path_types:
            fail(f"<{plugin}>: no writable path parameter with mod:fileTypes '{kind}' for the file selectors")

    with open(files["stylesheet"], encoding="utf-8") as f:
        css_text = f.read()
    rules = css_rules(css_text)
    for selectors, _ in rules:
        for s in selectors:
            if not s.startswith("." + PEDAL_CLASS):
                fail(f"{files['stylesheet']}: selector '{s}' is not prefixed by .{PEDAL_CLASS}")
    resources = re.findall(r"url\(\s*['\"]?([^)'\"]*)['\"]?\s*\)", css_text) + t.images
    for ref in resources:
        m = re.fullmatch(r"/resources/(.+)\{\{\{ns\}\}\}", ref)
        if not m:
            fail(f"resource '{ref}' is not /resources/NAME{{{{{{ns}}}}}} (MOD serves the bundle's files only so)")
        elif not os.path.isfile(os.path.join(res, m.group(1))):
            fail(f"resource '{ref}': {m.group(1)} is not in {res}")
        else:
            checked_files.add(os.path.join(res, m.group(1)))

    pedal = rule(rules, "." + PEDAL_CLASS)
    pedal_size = (px(pedal.get("width"), "the pedal's width"), px(pedal.get("height"), "the pedal's height"))
    shot = png_size(files["screenshot"]) if "screenshot" in files else None
    if shot and shot != pedal_size:
        fail(f"{files['screenshot']}: {shot[0]}x{shot[1]}, the pedal is {pedal_size[0]:g}x{pedal_size[1]:g}")
    bg = re.search(r"url\(/resources/([^{)]+)\{\{\{ns\}\}\}\)", pedal.get("background", ""))
    if not bg:
        fail("stylesheet: the pedal has no background image")
    else:
        face = png_size(os.path.join(res, bg.group(1)))
        if face and face != pedal_size:
            fail(f"{bg.group(1)}: {face[0]}x{face[1]}, the pedal is {pedal_size[0]:g}x{pedal_size[1]:g}")
    thumb = png_size(files["thumbnail"]) if "thumbnail" in files else None
    if thumb and shot:
        if thumb[0] > THUMBNAIL_MAX[0] or thumb[1] > THUMBNAIL_MAX[1]:
            fail(f"{files['thumbnail']}: {thumb[0]}x{thumb[1]}, MOD allows at most 256x64")
        if abs(thumb[0] - shot[0] * thumb[1] / shot[1]) > 1.5:
            fail(f"{files['thumbnail']}: {thumb[0]}x{thumb[1]} does not have the screenshot's proportions {shot}")

    knob = rule(rules, f".{PEDAL_CLASS} .nam-graph-knob")
    knob_w, knob_h = px(knob.get("width"), "the knob's width"), px(knob.get("height"), "the knob's height")
    strip_ref = re.search(r"url\(/resources/([^{)]+)\{\{\{ns\}\}\}\)", knob.get("background-image", ""))
    strip = png_size(os.path.join(res, strip_ref.group(1))) if strip_ref else None
    if not strip:
        fail("stylesheet: the knob has no film strip (background-image)")
    elif knob_w and (strip[1] != knob_h or strip[0] % knob_w or strip[0] // knob_w < 2):
        fail(f"{strip_ref.group(1)}: {strip[0]}x{strip[1]} is not a strip of {knob_w:g}x{knob_h:g} frames")
    slots = face_slots(art_dir)
    for sym, (attrs, ancestors) in widgets.items() if knob_w and knob_h else ():
        if "nam-graph-knob" not in (attrs.get("class") or "").split():
            continue
        slot_class = f"nam-graph-slot-{sym}"
        if slot_class not in ancestors:
            fail(f"{files['iconTemplate']}: the knob '{sym}' is not inside .{slot_class}")
            continue
        if sym not in slots:
            fail(f"face.svg: no slot-{sym} for the knob '{sym}'")
            continue
        pos = rule(rules, f".{PEDAL_CLASS} .{slot_class}")
        left, top = px(pos.get("left"), f"{slot_class} left"), px(pos.get("top"), f"{slot_class} top")
        want = (slots[sym][0] - knob_w / 2, slots[sym][1] - knob_h / 2)
        if (left, top) != want:
            fail(f"stylesheet: .{slot_class} at ({left:g}, {top:g}), face.svg's slot puts it at ({want[0]:g}, {want[1]:g})")
    knobs = sorted(s for s, (a, _) in widgets.items() if "nam-graph-knob" in (a.get("class") or "").split())
    print(f"<{plugin}>: {len(gui_ports)} modgui ports, knobs {knobs}, "
          f"selectors for {sorted(set(widgets) - set(knobs))} and {len(writable)} files; "
          f"screenshot {shot[0] if shot else '?'}x{shot[1] if shot else '?'}, "
          f"thumbnail {thumb[0] if thumb else '?'}x{thumb[1] if thumb else '?'}")


def main():
    if len(sys.argv) != 3:
        die("usage: check-modgui.py BUNDLE ART_DIR")
    bundle, art_dir = (os.path.abspath(a) for a in sys.argv[1:])
    g = Graph(load_graph(bundle))
    plugins = sorted(set(g.subjects(RDF + "type", LV2 + "Plugin")))
    with_gui = [p for p in plugins if g.objects(p, MODGUI + "gui")]
    if not with_gui:
        die(f"{bundle}: no plugin has a modgui:gui")
    checked = set()
    for plugin in with_gui:
        check_plugin(g, plugin, art_dir, checked)
    missing_gui = sorted(set(plugins) - set(with_gui))
    if missing_gui:
        fail(f"plugins without a MOD GUI: {missing_gui}")
    for p in problems:
        print("FAIL:", p)
    if problems:
        sys.exit(1)
    print(f"{len(with_gui)} MOD GUIs, {len(checked)} files checked in {bundle}")


if __name__ == "__main__":
    main()
