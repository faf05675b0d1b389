//! The LV2 state extension, on `lv2-sys`: the three files are saved with the
//! session as `atom:Path` values, mapped through the host's `state:mapPath`
//! (so sessions can be moved with their files), and restored on reopen.
//!
//! Written here rather than with `lv2-state` 2.0 because that crate refuses
//! calls whose flags lack `LV2_STATE_IS_POD` (jalv and lilv restore with no
//! flags) and does not free the paths the host returns.

use std::ffi::{c_char, c_void, CStr, CString};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use lv2_core::plugin::Plugin;
use lv2_sys as sys;

use crate::log::Level;
use crate::rig::{FileSlot, Rig, RigFiles};
use crate::shared::Shared;

extern "C" {
    fn free(pointer: *mut c_void);
}

/// A plugin whose files are saved and restored with the host's session.
pub trait StateHost: Plugin {
    /// The shared state, borrowed from the plugin.
    fn shared(&self) -> &Arc<Shared>;

    /// Plays `rig` from now on (instantiation context: not concurrent with
    /// `run()`), and tells a UI about the files.
    fn restored(&mut self, rig: Box<Rig>);
}

/// The shared state of every activated instance, by instance address.
///
/// `save()` may run while the host runs `run()` on another thread, and
/// lv2-core's `run` wrapper holds a `&mut` to the whole instance meanwhile:
/// reading any field of the plugin then would alias that `&mut`. So `save()`
/// finds the instance's `Shared` here, outside the instance's memory.
static ACTIVATED: Mutex<Vec<(usize, Arc<Shared>)>> = Mutex::new(Vec::new());

fn activated() -> MutexGuard<'static, Vec<(usize, Arc<Shared>)>> {
    // Pushes and removals leave the list consistent even after a panic.
    ACTIVATED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records `shared` as the state of the plugin at address `instance` (the
/// instance handle). Call from `activate()`, before the host may call
/// `run()`; again is harmless.
pub fn register(instance: usize, shared: &Arc<Shared>) {
    let mut list = activated();
    if !list.iter().any(|(address, _)| *address == instance) {
        list.push((instance, Arc::clone(shared)));
    }
}

/// Forgets the plugin at address `instance`; call when it is dropped (at
/// cleanup), so that a later instance at the same address starts unknown.
pub fn unregister(instance: usize) {
    let removed = {
        let mut list = activated();
        let index = list.iter().position(|(address, _)| *address == instance);
        index.map(|i| list.swap_remove(i))
    };
    // Dropped outside the lock: usually not the last reference anyway.
    drop(removed);
}

/// The `Shared` registered for the plugin at address `instance`.
fn registered(instance: usize) -> Option<Arc<Shared>> {
    activated()
        .iter()
        .find(|(address, _)| *address == instance)
        .map(|(_, shared)| Arc::clone(shared))
}

/// The `state:interface` extension for plugin type `P`.
pub struct StateDescriptor<P>(PhantomData<P>);

/// The host's path mapping features, found in a feature array.
struct PathFeatures {
    map: Option<sys::LV2_State_Map_Path>,
    free: Option<sys::LV2_State_Free_Path>,
}

impl PathFeatures {
    /// # Safety
    /// `features` must be null or a null-terminated array of valid features.
    unsafe fn find(features: *const *const sys::LV2_Feature) -> Self {
        let mut found = Self {
            map: None,
            free: None,
        };
        if features.is_null() {
            return found;
        }
        let mut cursor = features;
        // SAFETY: walking the host's null-terminated array (caller's contract).
        unsafe {
            while !(*cursor).is_null() {
                let feature = &**cursor;
                if !feature.URI.is_null() && !feature.data.is_null() {
                    let uri = CStr::from_ptr(feature.URI).to_bytes_with_nul();
                    if uri == sys::LV2_STATE__mapPath {
                        found.map = Some(*(feature.data as *const sys::LV2_State_Map_Path));
                    } else if uri == sys::LV2_STATE__freePath {
                        found.free = Some(*(feature.data as *const sys::LV2_State_Free_Path));
                    }
                }
                cursor = cursor.add(1);
            }
        }
        found
    }

    /// Maps `path` with `map_fn` (abstract or absolute) and frees the host's
    /// string; without the feature the path is used as it is.
    fn map_with(
        &self,
        path: &CStr,
        pick: impl Fn(
            &sys::LV2_State_Map_Path,
        )
            -> Option<unsafe extern "C" fn(*mut c_void, *const c_char) -> *mut c_char>,
    ) -> CString {
        let Some((map, function)) = self.map.as_ref().and_then(|m| pick(m).map(|f| (m, f))) else {
            return path.to_owned();
        };
        // SAFETY: the host's mapping function with its handle and a valid C string.
        let mapped = unsafe { function(map.handle, path.as_ptr()) };
        if mapped.is_null() {
            return path.to_owned();
        }
        // SAFETY: the host returned a NUL-terminated string we now own.
        let owned = unsafe { CStr::from_ptr(mapped) }.to_owned();
        // SAFETY: freed once, with the host's free_path or, as the spec says
        // when that feature is absent, with the C library's free().
        unsafe {
            match self.free.and_then(|f| f.free_path.map(|g| (f.handle, g))) {
                Some((handle, free_path)) => free_path(handle, mapped),
                None => free(mapped.cast()),
            }
        }
        owned
    }
}

impl<P: StateHost> StateDescriptor<P> {
    /// The interface returned from `extension_data`.
    pub const INTERFACE: &'static sys::LV2_State_Interface = &sys::LV2_State_Interface {
        save: Some(Self::save),
        restore: Some(Self::restore),
    };

    unsafe extern "C" fn save(
        instance: sys::LV2_Handle,
        store: sys::LV2_State_Store_Function,
        handle: sys::LV2_State_Handle,
        _flags: u32,
        features: *const *const sys::LV2_Feature,
    ) -> sys::LV2_State_Status {
        let Some(store) = store else {
            return sys::LV2_State_Status_LV2_STATE_ERR_UNKNOWN;
        };
        if instance.is_null() {
            return sys::LV2_State_Status_LV2_STATE_ERR_UNKNOWN;
        }
        let shared = match registered(instance as usize) {
            Some(shared) => shared,
            // SAFETY: not registered, so never activated (`activate()`
            // registers; the entry goes only when the plugin is dropped). The
            // host calls `run()` only after `activate()`, which it never calls
            // concurrently with `save()`, and worker replies only follow
            // `run()`: nothing borrows the plugin now, so a shared borrow is
            // sound. lv2-core's PluginInstance is repr(C) with the plugin
            // first, so the handle points at the plugin.
            None => Arc::clone(unsafe { &*(instance as *const P) }.shared()),
        };
        // SAFETY: the host's feature array for this call.
        let paths = unsafe { PathFeatures::find(features) };
        let files = shared.files();
        for slot in FileSlot::ALL {
            let Some(path) = files.get(slot) else {
                continue;
            };
            let Some(text) = path.to_str().and_then(|s| CString::new(s).ok()) else {
                shared.logger.log(
                    Level::Error,
                    &format!("{}: cannot save a path that is not UTF-8", path.display()),
                );
                continue;
            };
            let value = paths.map_with(&text, |m| m.abstract_path);
            let bytes = value.as_bytes_with_nul();
            let flags = (sys::LV2_State_Flags::LV2_STATE_IS_POD
                | sys::LV2_State_Flags::LV2_STATE_IS_PORTABLE)
                .0;
            // SAFETY: the host's store function with its handle; it copies the value.
            let status = unsafe {
                store(
                    handle,
                    shared.file_keys[slot.index()],
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    shared.path_type,
                    flags,
                )
            };
            if status != sys::LV2_State_Status_LV2_STATE_SUCCESS {
                shared.logger.log(
                    Level::Error,
                    &format!(
                        "the host did not save the {} ({})",
                        slot.label(),
                        path.display()
                    ),
                );
            }
        }
        sys::LV2_State_Status_LV2_STATE_SUCCESS
    }

    unsafe extern "C" fn restore(
        instance: sys::LV2_Handle,
        retrieve: sys::LV2_State_Retrieve_Function,
        handle: sys::LV2_State_Handle,
        _flags: u32,
        features: *const *const sys::LV2_Feature,
    ) -> sys::LV2_State_Status {
        let Some(retrieve) = retrieve else {
            return sys::LV2_State_Status_LV2_STATE_ERR_UNKNOWN;
        };
        if instance.is_null() {
            return sys::LV2_State_Status_LV2_STATE_ERR_UNKNOWN;
        }
        // SAFETY: restore is in the instantiation class: the host calls
        // nothing else on the instance meanwhile (not run(), not save()); the
        // handle points at the plugin (lv2-core's PluginInstance is repr(C)
        // with the plugin first).
        let plugin = unsafe { &mut *(instance as *mut P) };
        let shared = plugin.shared();
        // SAFETY: the host's feature array for this call.
        let paths = unsafe { PathFeatures::find(features) };
        let mut files = RigFiles::default();
        for slot in FileSlot::ALL {
            let (mut size, mut type_, mut flags) = (0usize, 0u32, 0u32);
            // SAFETY: the host's retrieve function with its handle.
            let value = unsafe {
                retrieve(
                    handle,
                    shared.file_keys[slot.index()],
                    &mut size,
                    &mut type_,
                    &mut flags,
                )
            };
            if value.is_null() || size == 0 {
                continue;
            }
            // SAFETY: the host keeps `size` bytes at `value` during restore.
            let bytes = unsafe { std::slice::from_raw_parts(value.cast::<u8>(), size) };
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            let Ok(text) = CString::new(&bytes[..end]) else {
                continue;
            };
            if text.as_bytes().is_empty() {
                continue;
            }
            let absolute = paths.map_with(&text, |m| m.absolute_path);
            match absolute.into_string() {
                Ok(path) => files.set(slot, Some(user_path(PathBuf::from(path)))),
                Err(_) => shared.logger.log(
                    Level::Error,
                    &format!("the saved {} path is not UTF-8; not restored", slot.label()),
                ),
            }
        }
        // Built on the loading thread, like every load (its stack is big
        // enough for any model).
        match shared
            .loader
            .run(shared, move |shared| shared.build_tolerant(files))
        {
            Some(Ok(rig)) => {
                plugin.restored(rig);
                sys::LV2_State_Status_LV2_STATE_SUCCESS
            }
            Some(Err(error)) => {
                let message = format!("state not restored: {error}");
                plugin.shared().logger.log(Level::Error, &message);
                sys::LV2_State_Status_LV2_STATE_ERR_UNKNOWN
            }
            None => {
                let message = "state not restored: internal error while loading (a bug)";
                plugin.shared().logger.log(Level::Error, message);
                sys::LV2_State_Status_LV2_STATE_ERR_UNKNOWN
            }
        }
    }
}

/// Most links a missing file's path is followed through by [`user_path`].
const MAX_LINK_HOPS: usize = 16;

/// The path to load and to name in messages for a restored file: `path`
/// itself, unless it is a symbolic link to nothing. Ardour keeps a session's
/// outside files as links (`plugins/N/stateM/drive.nam` →
/// `externals/drive.nam` → the user's file); when the user's file has moved,
/// the path at the end of those links is the one the user knows, so the "not
/// restored" message names it instead of Ardour's internal link.
fn user_path(path: PathBuf) -> PathBuf {
    let mut current = path;
    for _ in 0..MAX_LINK_HOPS {
        if current.exists() {
            break;
        }
        let Ok(target) = std::fs::read_link(&current) else {
            break;
        };
        let dir = current.parent().unwrap_or(Path::new("/"));
        // `dir/../../user/x.nam` as `/…/user/x.nam`: the folder of a missing
        // file usually exists and can be resolved; else keep the joined path
        let joined = dir.join(&target);
        current = match (joined.parent(), joined.file_name()) {
            (Some(parent), Some(name)) => parent
                .canonicalize()
                .map(|parent| parent.join(name))
                .unwrap_or(joined),
            _ => joined,
        };
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Logger;

    #[test]
    fn a_link_to_a_moved_file_is_named_by_the_path_it_points_to() {
        let dir = std::env::temp_dir().join(format!("nam-lv2-links-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (user, session) = (dir.join("user"), dir.join("session"));
        std::fs::create_dir_all(&user).unwrap();
        std::fs::create_dir_all(session.join("externals")).unwrap();
        std::fs::create_dir_all(session.join("plugins/1/state1")).unwrap();
        // Ardour's layout: two relative links in a row
        let external = session.join("externals/drive.nam");
        let state_link = session.join("plugins/1/state1/drive.nam");
        std::os::unix::fs::symlink("../../user/drive.nam", &external).unwrap();
        std::os::unix::fs::symlink("../../../externals/drive.nam", &state_link).unwrap();
        let user_file = user.canonicalize().unwrap().join("drive.nam");

        // the user's file moved away: the path is the user's
        assert_eq!(user_path(state_link.clone()), user_file);
        // a path that is no link is kept, present or not
        assert_eq!(user_path(dir.join("none.nam")), dir.join("none.nam"));
        // the file in place: the link is kept (the host's mapping stays as it is)
        std::fs::write(&user_file, "{}").unwrap();
        assert_eq!(user_path(state_link.clone()), state_link);
        // a loop of links ends
        std::os::unix::fs::symlink("b", dir.join("a")).unwrap();
        std::os::unix::fs::symlink("a", dir.join("b")).unwrap();
        let _ = user_path(dir.join("a"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn save_finds_an_activated_instance_until_it_is_dropped() {
        let shared = Arc::new(Shared::new(48_000.0, 1, Logger::stderr(), [1, 2, 3], 4));
        // An address no real instance has (odd, so never a plugin's).
        let instance = 0x5ead_0001;
        assert!(registered(instance).is_none());
        register(instance, &shared);
        register(instance, &shared);
        let found = registered(instance).expect("registered");
        assert!(Arc::ptr_eq(&found, &shared));
        drop(found);
        assert_eq!(Arc::strong_count(&shared), 2, "registered once");
        unregister(instance);
        assert!(registered(instance).is_none());
        assert_eq!(Arc::strong_count(&shared), 1);
    }
}
