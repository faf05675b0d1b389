//! The plugin's messages on its atom ports: `patch:Set`/`patch:Get` for the
//! file parameters and MIDI program changes in; `patch:Set` echoes out.
//!
//! Read and written with the `lv2-atom` crate; it has no `atom:Path` type, so
//! [`AtomPath`] adds one.

use std::ffi::c_void;
use std::ptr::NonNull;

use lv2_atom::prelude::*;
use lv2_atom::space::{FramedMutSpace, Space};
use lv2_atom::string::StringWriter;
use lv2_atom::Atom;
use lv2_core::port::PortType;
use lv2_midi::prelude::*;
use lv2_sys as sys;
use lv2_units::prelude::*;
use urid::{Map, URIDCollection, UriBound, URID};

use crate::rig::FileSlot;

/// `atom:Path`: a NUL-terminated UTF-8 absolute file path.
pub struct AtomPath;

// SAFETY: the URI is atom:Path, NUL-terminated.
unsafe impl UriBound for AtomPath {
    const URI: &'static [u8] = sys::LV2_ATOM__Path;
}

impl<'a, 'b> Atom<'a, 'b> for AtomPath
where
    'a: 'b,
{
    type ReadParameter = ();
    type ReadHandle = &'a str;
    type WriteParameter = ();
    type WriteHandle = StringWriter<'a, 'b>;

    fn read(body: Space<'a>, _: ()) -> Option<&'a str> {
        text_of(body)
    }

    fn init(frame: FramedMutSpace<'a, 'b>, _: ()) -> Option<StringWriter<'a, 'b>> {
        // Same body layout as atom:String; the frame already carries our type.
        <lv2_atom::string::String as Atom>::init(frame, ())
    }
}

/// The text of a string-like atom body, up to its first NUL (tolerates a
/// missing terminator and an empty body, unlike `lv2_atom::string::String`).
fn text_of(body: Space<'_>) -> Option<&str> {
    let data = body.data()?;
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    std::str::from_utf8(&data[..end]).ok()
}

/// Every URID the plugin's messages use, mapped at instantiation.
pub struct Urids {
    /// The atom types.
    pub atom: AtomURIDCollection,
    /// `atom:Path`.
    pub path: URID<AtomPath>,
    /// MIDI events.
    pub midi: MidiURIDCollection,
    /// Time units (sequence time stamps).
    pub units: UnitURIDCollection,
    /// `patch:Set`.
    pub patch_set: URID,
    /// `patch:Get`.
    pub patch_get: URID,
    /// `patch:property`.
    pub patch_property: URID,
    /// `patch:value`.
    pub patch_value: URID,
    /// The file parameters, indexed like [`FileSlot::ALL`].
    pub files: [URID; 3],
}

impl Urids {
    /// Maps everything; `None` when the host's map fails.
    pub fn new(map: &impl Map) -> Option<Self> {
        let uri =
            |bytes: &'static [u8]| map.map_uri(std::ffi::CStr::from_bytes_with_nul(bytes).ok()?);
        let files = [
            map.map_str(FileSlot::Model.uri())?,
            map.map_str(FileSlot::InputIr.uri())?,
            map.map_str(FileSlot::CabIr.uri())?,
        ];
        Some(Self {
            atom: AtomURIDCollection::from_map(map)?,
            path: map.map_type()?,
            midi: MidiURIDCollection::from_map(map)?,
            units: UnitURIDCollection::from_map(map)?,
            patch_set: uri(sys::LV2_PATCH__Set)?,
            patch_get: uri(sys::LV2_PATCH__Get)?,
            patch_property: uri(sys::LV2_PATCH__property)?,
            patch_value: uri(sys::LV2_PATCH__value)?,
            files,
        })
    }

    /// The file slot a property URID names.
    pub fn slot_of(&self, property: URID) -> Option<FileSlot> {
        let index = self.files.iter().position(|&f| f == property)?;
        FileSlot::from_index(index)
    }
}

/// A message from the host or a UI, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// `patch:Set` of a file parameter; an empty path clears the file.
    SetFile {
        /// Which file.
        slot: FileSlot,
        /// The absolute path.
        path: &'a str,
    },
    /// `patch:Set` of a property we do not know (answered with a warning).
    SetUnknown,
    /// `patch:Get` of one file parameter, or of all (`None`).
    Get(Option<FileSlot>),
    /// MIDI program change (0-127).
    Program(u8),
}

/// Decodes one event of the control port; `None` for events the plugin ignores.
pub fn decode<'a>(atom: UnidentifiedAtom<'a>, urids: &Urids) -> Option<Incoming<'a>> {
    if let Some(bytes) = atom.read(urids.midi.raw, ()) {
        return program_change(bytes).map(Incoming::Program);
    }
    let (header, object) = atom
        .read(urids.atom.object, ())
        .or_else(|| atom.read(urids.atom.blank, ()))?;
    let mut property = None;
    let mut value = None;
    for (key, atom) in object {
        if key.key == urids.patch_property {
            property = atom.read(urids.atom.urid, ()).map(URID::into_general);
        } else if key.key == urids.patch_value {
            value = atom
                .read(urids.path, ())
                .or_else(|| string_value(atom, urids));
        }
    }
    if header.otype == urids.patch_get {
        return match property {
            None => Some(Incoming::Get(None)),
            // A property of another plugin or a newer version: no answer.
            Some(p) => urids.slot_of(p).map(|slot| Incoming::Get(Some(slot))),
        };
    }
    if header.otype != urids.patch_set {
        return None;
    }
    match (property.and_then(|p| urids.slot_of(p)), value) {
        (Some(slot), Some(path)) => Some(Incoming::SetFile { slot, path }),
        (None, _) => Some(Incoming::SetUnknown),
        (Some(_), None) => None,
    }
}

/// The program of a MIDI program change (status `0xC0`-`0xCF` on any
/// channel, then a data byte); `None` for any other bytes, however malformed.
/// Read by hand: `wmidi` panics on a message that starts with a data byte.
fn program_change(bytes: &[u8]) -> Option<u8> {
    match *bytes {
        [status, program, ..] if status & 0xF0 == 0xC0 && program < 0x80 => Some(program),
        _ => None,
    }
}

/// The text of an `atom:String` value, read without `lv2_atom`'s string
/// reader (which panics on an empty body).
fn string_value<'a>(atom: UnidentifiedAtom<'a>, urids: &Urids) -> Option<&'a str> {
    // SAFETY: atom:String has the same body layout as atom:Path; the URID is
    // the host's mapping of atom:String, only used to match the atom's type.
    let as_path: URID<AtomPath> = unsafe { URID::new_unchecked(urids.atom.string.get()) };
    atom.read(as_path, ())
}

/// The notify port's type: its sequence is written here rather than with
/// `lv2-atom`, whose writers leave a partial event behind when the host's
/// buffer is too small (a UI would read an empty path as "file cleared").
pub struct NotifyPort;

impl PortType for NotifyPort {
    type InputPortType = ();
    type OutputPortType = NotifyBuffer;

    unsafe fn input_from_raw(_pointer: NonNull<c_void>, _sample_count: u32) {}

    unsafe fn output_from_raw(pointer: NonNull<c_void>, _sample_count: u32) -> NotifyBuffer {
        // SAFETY: the host connects an LV2_Atom whose `size` is the capacity
        // of the body that follows the 8-byte header (LV2 atom port rules),
        // valid during the run() call that builds this handle.
        let capacity = unsafe { (*pointer.cast::<sys::LV2_Atom>().as_ptr()).size } as usize;
        NotifyBuffer {
            pointer: pointer.cast(),
            len: ATOM_HEADER + capacity,
        }
    }
}

/// The notify port's buffer as the host connected it: valid only during the
/// `run()` call whose ports hold this handle. Write it with
/// [`NotifyBuffer::writer`].
pub struct NotifyBuffer {
    pointer: NonNull<u8>,
    len: usize,
}

impl NotifyBuffer {
    /// A writer borrowing the buffer for as long as it borrows this handle.
    ///
    /// # Safety
    /// Only during the `run()` call whose ports hold this handle (the host's
    /// buffer is valid and ours alone only then).
    pub unsafe fn writer(&mut self) -> NotifyWriter<'_> {
        // SAFETY: the caller's contract: the host's buffer of `len` bytes is
        // valid and unaliased now, and the `&mut self` borrow keeps a second
        // writer from aliasing this one.
        let buffer = unsafe { std::slice::from_raw_parts_mut(self.pointer.as_ptr(), self.len) };
        NotifyWriter { buffer, used: 0 }
    }
}

const ATOM_HEADER: usize = 8;

/// Rounds up to the 8-byte alignment of atom bodies.
fn padded(size: usize) -> usize {
    size.div_ceil(8) * 8
}

/// Writes the notify port's `atom:Sequence`, event by event, never past its
/// capacity and never leaving a partial event.
pub struct NotifyWriter<'a> {
    buffer: &'a mut [u8],
    used: usize,
}

impl NotifyWriter<'_> {
    fn put_u32(&mut self, at: usize, value: u32) {
        self.buffer[at..at + 4].copy_from_slice(&value.to_ne_bytes());
    }

    /// Starts an empty sequence with frame time stamps. False if the buffer
    /// cannot hold even that.
    pub fn begin(&mut self, urids: &Urids) -> bool {
        if self.buffer.len() < 16 {
            return false;
        }
        self.put_u32(0, 8);
        self.put_u32(4, urids.atom.sequence.get());
        self.put_u32(8, urids.units.frame.get());
        self.put_u32(12, 0);
        self.used = 16;
        true
    }

    /// Appends `patch:Set <slot> <atom:Path path>` at frame 0. False (and
    /// nothing written) if it does not fit.
    pub fn push_set(&mut self, urids: &Urids, slot: FileSlot, path: &str) -> bool {
        let path_size = path.len() + 1;
        let object_size = 8 + 24 + 16 + padded(path_size);
        let event_size = 8 + ATOM_HEADER + object_size;
        if self.used < 16 || self.used + event_size > self.buffer.len() {
            return false;
        }
        let at = self.used;
        self.buffer[at..at + event_size].fill(0);
        // Event: time stamp, then the object atom.
        self.buffer[at..at + 8].copy_from_slice(&0i64.to_ne_bytes());
        self.put_u32(at + 8, object_size as u32);
        self.put_u32(at + 12, urids.atom.object.get());
        // Object body: id 0 (blank), type patch:Set.
        self.put_u32(at + 16, 0);
        self.put_u32(at + 20, urids.patch_set.get());
        // patch:property = <slot URI> (an atom:URID).
        self.put_u32(at + 24, urids.patch_property.get());
        self.put_u32(at + 32, 4);
        self.put_u32(at + 36, urids.atom.urid.get());
        self.put_u32(at + 40, urids.files[slot.index()].get());
        // patch:value = the path (an atom:Path, NUL-terminated).
        self.put_u32(at + 48, urids.patch_value.get());
        self.put_u32(at + 56, path_size as u32);
        self.put_u32(at + 60, urids.path.get());
        self.buffer[at + 64..at + 64 + path.len()].copy_from_slice(path.as_bytes());
        self.used += event_size;
        let sequence_size = (self.used - ATOM_HEADER) as u32;
        self.put_u32(0, sequence_size);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::program_change;

    #[test]
    fn program_changes_are_read_and_other_midi_bytes_ignored() {
        assert_eq!(program_change(&[0xC0, 5]), Some(5));
        assert_eq!(program_change(&[0xCF, 127, 0]), Some(127));
        for bytes in [
            &[][..],
            &[0xC0],
            &[0xC0, 0x80],
            &[0xB0, 1, 2],
            // Data bytes first (running status): made `wmidi` panic.
            &[0x00, 0x00],
            &[0x45],
            &[0xF0, 0x7E, 0xF7],
        ] {
            assert_eq!(program_change(bytes), None, "{bytes:?}");
        }
    }
}
