#!/usr/bin/env python3
"""Renders the MOD GUI's images from the SVG drawings in ttl/modgui-art/ (standard library and
rsvg-convert, from Debian's librsvg2-bin).

usage: scripts/modgui-art.py ART_DIR PLUGIN_TTL OUT_DIR

Writes into OUT_DIR (the bundle's modgui/ folder):
  face.png                  the pedal's background under the live widgets (face.svg without
                            its "screenshot-only" elements)
  knob.png                  the knobs' film strip: knob.svg turned from -135 to +135 degrees
                            in KNOB_FRAMES frames side by side (MOD's "film" widget)
  screenshot.png            the mono plugin as MOD shows it at its defaults: face.svg with
  screenshot-stereo.png     the knobs turned to the defaults PLUGIN_TTL gives and the label
  thumbnail.png             the screenshots scaled to 64 px high (MOD: at most 256 x 64)
  thumbnail-stereo.png
"""
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
KNOB_FRAMES = 65
KNOB_TRAVEL_DEG = 270.0
THUMBNAIL_HEIGHT = 64
LABELS = {"screenshot": "NAM", "screenshot-stereo": "NAM STEREO"}

ET.register_namespace("", SVG)
ET.register_namespace("xlink", XLINK)


def die(msg):
    print(f"error: modgui-art: {msg}", file=sys.stderr)
    sys.exit(1)


def load_svg(path):
    try:
        return ET.parse(path)
    except (OSError, ET.ParseError) as e:
        die(f"{path}: {e}")


def port_defaults(ttl_path):
    """{symbol: (default - minimum) / (maximum - minimum)} of the first plugin's control ports."""
    try:
        with open(ttl_path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        die(f"{ttl_path}: {e.strerror}")
    fractions = {}
    # Each port's properties run from its lv2:symbol to the next port's.
    chunks = re.split(r'lv2:symbol\s+"(\w+)"', text)
    for symbol, body in zip(chunks[1::2], chunks[2::2]):
        values = {}
        for key in ("default", "minimum", "maximum"):
            m = re.search(rf"lv2:{key}\s+(-?[0-9.]+)", body)
            if m:
                values[key] = float(m.group(1))
        if len(values) == 3 and values["maximum"] > values["minimum"] and symbol not in fractions:
            fractions[symbol] = (values["default"] - values["minimum"]) / (values["maximum"] - values["minimum"])
    return fractions


def knob_angle(fraction):
    return -KNOB_TRAVEL_DEG / 2 + KNOB_TRAVEL_DEG * fraction


def knob_defs(knob_tree):
    """knob.svg's gradients and a <g id="knob"> holding its drawing, for a <defs>."""
    defs, body = [], ET.Element(f"{{{SVG}}}g", {"id": "knob"})
    for child in knob_tree.getroot():
        if child.tag == f"{{{SVG}}}defs":
            defs.extend(child)
        else:
            body.append(child)
    return defs + [body]


def use_knob(x, y, angle):
    return ET.Element(f"{{{SVG}}}use", {
        f"{{{XLINK}}}href": "#knob",
        "transform": f"translate({x:.2f},{y:.2f}) rotate({angle:.3f},22,22)",
    })


def size_of(tree):
    root = tree.getroot()
    return int(float(root.get("width"))), int(float(root.get("height")))


def drop_screenshot_only(root):
    for parent in list(root.iter()):
        for child in list(parent):
            if "screenshot-only" in (child.get("class") or "").split():
                parent.remove(child)


def slots(root):
    """{symbol: (x, y)} of the groups with id slot-SYMBOL and transform translate(x,y)."""
    found = {}
    for el in root.iter():
        ident = el.get("id") or ""
        if ident.startswith("slot-"):
            m = re.fullmatch(r"translate\(\s*(-?[0-9.]+)\s*,\s*(-?[0-9.]+)\s*\)", el.get("transform") or "")
            if not m:
                die(f"face.svg: {ident} has no transform translate(x,y)")
            found[ident[len("slot-"):]] = (float(m.group(1)), float(m.group(2)))
    return found


def render(tree, out_png, height=None):
    with tempfile.NamedTemporaryFile("wb", suffix=".svg", delete=False) as tmp:
        tree.write(tmp, encoding="utf-8", xml_declaration=True)
    cmd = ["rsvg-convert", "--format=png", "-o", out_png]
    if height:
        cmd += ["--keep-aspect-ratio", f"--height={height}"]
    try:
        subprocess.run(cmd + [tmp.name], check=True)
    except FileNotFoundError:
        die("rsvg-convert not found: install Debian's librsvg2-bin (apt-get install librsvg2-bin)")
    except subprocess.CalledProcessError as e:
        die(f"rsvg-convert failed on {out_png} (exit {e.returncode})")
    finally:
        os.unlink(tmp.name)


def main():
    if len(sys.argv) != 4:
        die("usage: modgui-art.py ART_DIR PLUGIN_TTL OUT_DIR")
    art, ttl, out = sys.argv[1:]
    os.makedirs(out, exist_ok=True)
    face_path, knob_path = os.path.join(art, "face.svg"), os.path.join(art, "knob.svg")
    knob = load_svg(knob_path)
    knob_w, knob_h = size_of(knob)

    face = load_svg(face_path)
    drop_screenshot_only(face.getroot())
    render(face, os.path.join(out, "face.png"))

    strip = ET.ElementTree(ET.Element(f"{{{SVG}}}svg", {
        "width": str(knob_w * KNOB_FRAMES), "height": str(knob_h),
        "viewBox": f"0 0 {knob_w * KNOB_FRAMES} {knob_h}",
    }))
    ET.SubElement(strip.getroot(), f"{{{SVG}}}defs").extend(knob_defs(knob))
    for i in range(KNOB_FRAMES):
        strip.getroot().append(use_knob(i * knob_w, 0, knob_angle(i / (KNOB_FRAMES - 1))))
    render(strip, os.path.join(out, "knob.png"))

    defaults = port_defaults(ttl)
    for name, label in LABELS.items():
        shot = load_svg(face_path)
        root = shot.getroot()
        label_el = root.find(".//*[@id='label']")
        if label_el is None:
            die(f"{face_path}: no element with id 'label'")
        label_el.text = label
        defs = root.find(f"{{{SVG}}}defs")
        if defs is None:
            die(f"{face_path}: no <defs>")
        defs.extend(knob_defs(load_svg(knob_path)))
        for symbol, (x, y) in slots(root).items():
            if symbol not in defaults:
                die(f"{face_path}: slot-{symbol}: {ttl} has no control port '{symbol}' with a range")
            root.append(use_knob(x - knob_w / 2, y - knob_h / 2, knob_angle(defaults[symbol])))
        render(shot, os.path.join(out, f"{name}.png"))
        render(shot, os.path.join(out, name.replace("screenshot", "thumbnail") + ".png"), THUMBNAIL_HEIGHT)


if __name__ == "__main__":
    main()
