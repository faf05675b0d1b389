//! The plugin's messages on its atom ports: `patch:Set`/`patch:Get` for the
//! file parameters and MIDI program changes in; `patch:Set` echoes out.
//!
//! Read and written with the `lv2-atom` crate; it has no `atom:Path` type, so
//! [`AtomPath`] adds one.

use lv2_atom::prelude::*;
use lv2_atom::space::{FramedMutSpace, Space};
use lv2_atom::string::StringWriter;
use lv2_atom::Atom;
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
    if let Some(message) = atom.read(urids.midi.wmidi, ()) {
        return match message {
            wmidi::MidiMessage::ProgramChange(_, program) => {
                Some(Incoming::Program(program.into()))
            }
            _ => None,
        };
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
        return Some(Incoming::Get(property.and_then(|p| urids.slot_of(p))));
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

/// The text of an `atom:String` value, read without `lv2_atom`'s string
/// reader (which panics on an empty body).
fn string_value<'a>(atom: UnidentifiedAtom<'a>, urids: &Urids) -> Option<&'a str> {
    // SAFETY: atom:String has the same body layout as atom:Path; the URID is
    // the host's mapping of atom:String, only used to match the atom's type.
    let as_path: URID<AtomPath> = unsafe { URID::new_unchecked(urids.atom.string.get()) };
    atom.read(as_path, ())
}

/// Writes `patch:Set <slot> <atom:Path path>` at frame 0 of `sequence`.
/// Returns `None` when the port's buffer is full.
pub fn write_set(
    sequence: &mut lv2_atom::sequence::SequenceWriter,
    urids: &Urids,
    slot: FileSlot,
    path: &str,
) -> Option<()> {
    let mut object = sequence.init(
        TimeStamp::Frames(0),
        urids.atom.object,
        ObjectHeader {
            id: None,
            otype: urids.patch_set,
        },
    )?;
    object.init(
        urids.patch_property,
        urids.atom.urid,
        urids.files[slot.index()],
    )?;
    let mut text = object.init(urids.patch_value, urids.path, ())?;
    text.append(path)?;
    Some(())
}
