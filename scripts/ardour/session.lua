-- Headless Ardour 7 session for scripts/test-lv2.sh, run by `ardour7-lua` (see
-- scripts/ardour/run.sh). On the dummy backend (its generator is the input), one
-- track with the plugin, its files set by an LV2 preset (Ardour's Lua cannot set
-- patch:writable parameters), 2 s exported as 32-bit float WAV.
--
--   MODE=create  new session SESSION_DIR (TRACK_CH input channels, rate SR),
--                plugin PLUGIN_URI ("none": no plugin) with preset PRESET_LABEL
--                ("none": defaults), saved, exported to EXPORT_DIR/EXPORT_NAME.wav
--   MODE=reopen  the saved session opened again (the plugin restores its own state),
--                exported to EXPORT_DIR/EXPORT_NAME.wav
--
-- Prints "latency: plugin=N" (the latency Ardour takes from the plugin's insert
-- and compensates) and "exported: PATH" once the export ran.
local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then
    assert(default ~= nil, "environment variable " .. name .. " not set")
    return default
  end
  return v
end

local MODE = env("MODE")
local URI = env("PLUGIN_URI", "none")
local PRESET = env("PRESET_LABEL", "none")
local DIR = env("SESSION_DIR")
local OUT_DIR = env("EXPORT_DIR")
local NAME = env("EXPORT_NAME")
local RATE = tonumber(env("SR", "48000"))
local CHANNELS = tonumber(env("TRACK_CH", "1"))
-- a float, undithered format (scripts/ardour/run.sh writes this preset)
local EXPORT_PRESET = "8d0b5b0e-6a2c-4d8f-9a51-6e2c0a4e7f31"

local backend = AudioEngine:set_backend("None (Dummy)", "", "")
assert(backend and not backend:isnil(), "no dummy backend")
backend:set_device_name(env("DUMMY_INPUT", "Sine Wave 1K, 1/3 Oct"))
if RATE ~= 48000 then backend:set_sample_rate(RATE) end

local function report_latency()
  local route = Session:route_by_name("nam")
  assert(not route:isnil(), "track 'nam' not found")
  local proc = route:nth_plugin(0)
  if proc:isnil() then
    print("latency: none (no plugin)")
  else
    print(string.format("latency: plugin=%d", proc:to_insert():signal_latency()))
  end
  route = nil; proc = nil
  collectgarbage()
end

local function monitor_input()
  -- Ardour does not save the monitoring choice: set it in both modes
  local track = Session:route_by_name("nam"):to_track()
  track:monitoring_control():set_value(ARDOUR.MonitorChoice.MonitorInput, PBD.GroupControlDisposition.NoGroup)
  track = nil
  collectgarbage()
end

if MODE == "create" then
  assert(create_session(DIR, "nam", RATE), "create_session failed")
  local tracks = Session:new_audio_track(CHANNELS, 2, nil, 1, "nam",
    ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true, false)
  local track = tracks:front()
  if URI ~= "none" then
    local proc = ARDOUR.LuaAPI.new_plugin(Session, URI, ARDOUR.PluginType.LV2, "")
    assert(not proc:isnil(), "plugin not found: " .. URI)
    assert(track:add_processor_by_index(proc, 0, nil, true) == 0, "add_processor failed")
    if PRESET ~= "none" then
      local plugin = proc:to_insert():plugin(0)
      local preset = plugin:preset_by_label(PRESET)
      assert(preset, "preset not found: " .. PRESET)
      assert(plugin:load_preset(preset), "load_preset failed")
      plugin = nil; preset = nil
    end
    proc = nil
  end
  track = nil; tracks = nil
  collectgarbage()
  assert(Session:save_state("", false, false, false, false, false) == 0, "save_state failed")
elseif MODE == "reopen" then
  assert(load_session(DIR, "nam"), "load_session failed")
else
  error("MODE must be create or reopen")
end
print("session rate:", Session:nominal_sample_rate())
monitor_input()
ARDOUR.LuaAPI.usleep(500000) -- the worker's loads land, the crossfade ends
report_latency()
local export = Session:simple_export()
export:set_name(NAME)
export:set_folder(OUT_DIR)
export:set_range(0, 2 * RATE)
assert(export:set_preset(EXPORT_PRESET), "export preset " .. EXPORT_PRESET .. " not found")
assert(export:check_outputs(), "export: no outputs")
assert(export:run_export(), "export failed")
print("exported: " .. OUT_DIR .. "/" .. NAME .. ".wav")
-- every Lua reference to session objects must be gone before the session is
-- deleted (otherwise the track outlives the Session: use after free)
export = nil
collectgarbage(); collectgarbage()
close_session()
