//! The plugin's control-port messages: one atom as the host delivers it in
//! the control sequence, decoded by `nam_lv2::patch::decode` (`patch:Set` and
//! `patch:Get` objects, MIDI program changes).
//!
//! Any input must decode to a message or to nothing, never panic; a
//! `patch:Set` of a file must survive the plugin's own echo (written by
//! `NotifyWriter`, decoded again), which must fit exactly the bytes it says
//! it used and refuse a buffer one byte shorter.
//!
//! URIDs are fixed ([`URIS`]), so hand-made seeds can name them; the seeds in
//! `fuzz/seeds/patch_atom` were written by `fuzz/make-seeds.py` with the
//! same numbers.
#![no_main]

use std::ffi::{CStr, CString};
use std::ptr::NonNull;
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use lv2_atom::space::Space;
use lv2_atom::UnidentifiedAtom;
use lv2_core::port::PortType;
use nam_fuzz::LimitedAllocator;
use nam_lv2::patch::{decode, Incoming, NotifyPort, Urids};
use nam_lv2::rig::FileSlot;
use urid::{Map, Uri, URID};

#[global_allocator]
static ALLOCATOR: LimitedAllocator = LimitedAllocator;

/// The URIs seeds use, mapped to 1, 2, 3… in this order; any other URI the
/// plugin maps gets the next free number.
const URIS: [&CStr; 13] = [
    c"http://lv2plug.in/ns/ext/atom#Object",
    c"http://lv2plug.in/ns/ext/atom#Blank",
    c"http://lv2plug.in/ns/ext/atom#URID",
    c"http://lv2plug.in/ns/ext/atom#Path",
    c"http://lv2plug.in/ns/ext/atom#String",
    c"http://lv2plug.in/ns/ext/midi#MidiEvent",
    c"http://lv2plug.in/ns/ext/patch#Set",
    c"http://lv2plug.in/ns/ext/patch#Get",
    c"http://lv2plug.in/ns/ext/patch#property",
    c"http://lv2plug.in/ns/ext/patch#value",
    c"urn:nam-graph:amp_model",
    c"urn:nam-graph:input_ir",
    c"urn:nam-graph:cab_ir",
];

/// A host's URID map numbering [`URIS`] first.
struct FixedMap(Mutex<Vec<CString>>);

impl Map for FixedMap {
    fn map_uri(&self, uri: &Uri) -> Option<URID> {
        let mut uris = self.0.lock().ok()?;
        let index = match uris.iter().position(|known| known.as_c_str() == uri) {
            Some(index) => index,
            None => {
                uris.push(uri.to_owned());
                uris.len() - 1
            }
        };
        URID::new(u32::try_from(index + 1).ok()?)
    }
}

/// The plugin's URIDs, mapped once through a [`FixedMap`].
fn urids() -> &'static Urids {
    static URIDS: OnceLock<Urids> = OnceLock::new();
    URIDS.get_or_init(|| {
        let map = FixedMap(Mutex::new(URIS.map(CStr::to_owned).to_vec()));
        let urids = Urids::new(&map).expect("the plugin's URIs map");
        assert_eq!(urids.patch_set.get(), 7, "URIS is out of step with the map");
        urids
    })
}

/// Runs `f` over `len` zeroed bytes aligned like an atom (8 bytes), as a
/// host's buffers are.
fn with_aligned<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    let mut words = vec![0u64; len.div_ceil(8)];
    // SAFETY: the words own at least `len` initialised bytes, any byte value
    // is a valid u8, and `words` is not used while the slice lives.
    let bytes = unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), len) };
    f(bytes)
}

/// Writes the plugin's echo of `patch:Set slot path` into a notify buffer
/// with `capacity` bytes after the sequence's atom header, as a host
/// connects it; returns the sequence's bytes if it fits.
fn echo(urids: &Urids, slot: FileSlot, path: &str, capacity: usize) -> Option<Vec<u8>> {
    with_aligned(8 + capacity, |buffer| {
        buffer[..4].copy_from_slice(&(capacity as u32).to_ne_bytes());
        let pointer = NonNull::from(&mut *buffer).cast();
        let fits = {
            // SAFETY: `pointer` is an LV2_Atom whose `size` is the capacity of
            // the body after it, valid and ours alone while `port` lives; the
            // writer is dropped before `buffer` is read.
            let mut port = unsafe { NotifyPort::output_from_raw(pointer, 0) };
            // SAFETY: as above: the buffer stands for the host's during run().
            let mut writer = unsafe { port.writer() };
            assert!(writer.begin(urids), "an empty sequence fits");
            writer.push_set(urids, slot, path)
        };
        let size = u32::from_ne_bytes(buffer[..4].try_into().unwrap()) as usize;
        fits.then(|| buffer[..8 + size].to_vec())
    })
}

/// The event after a sequence's 16-byte header, without its 8-byte time.
const FIRST_EVENT_ATOM: usize = 16 + 8;

/// Decodes `bytes` from an aligned copy; for a `patch:Set` of a file, its
/// slot and path.
fn decode_set_file(urids: &Urids, bytes: &[u8]) -> Option<(FileSlot, String)> {
    with_aligned(bytes.len(), |aligned| {
        aligned.copy_from_slice(bytes);
        match decode(UnidentifiedAtom::new(Space::from_slice(aligned)), urids)? {
            Incoming::SetFile { slot, path } => Some((slot, path.to_owned())),
            Incoming::Program(program) => {
                assert!(program < 128, "program change {program}");
                None
            }
            Incoming::SetUnknown | Incoming::Get(_) => None,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let urids = urids();
    let Some((slot, path)) = decode_set_file(urids, data) else {
        return;
    };
    // The echo needs 64 bytes and the padded path: the input held more.
    let sequence = echo(urids, slot, &path, data.len() + 128).expect("the echo fits");
    let used = sequence.len();
    assert_eq!(
        echo(urids, slot, &path, used - 8).as_deref(),
        Some(sequence.as_slice()),
        "the echo does not fit the bytes it used"
    );
    assert_eq!(
        echo(urids, slot, &path, used - 9),
        None,
        "the echo overran its buffer"
    );
    assert_eq!(
        decode_set_file(urids, &sequence[FIRST_EVENT_ATOM..]),
        Some((slot, path)),
        "the echo decodes to another message"
    );
});
