//! Desktop app releases for the app's updater: a folder of published versions, each with its
//! notes and one signed artifact per platform, and the answer to "is there something newer than
//! version X for my platform?". The signatures are made where the app is built (the private key
//! never reaches the server); the app checks them against the public key it was built with.
//!
//! Layout: `<dir>/<version>/release.json` and the artifacts beside it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{SecondsFormat, Utc};
use semver::Version;
use serde::{Deserialize, Serialize};

/// One published version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    /// The version, semver (`1.4.0`).
    pub version: String,
    /// What changed, shown to the coordinator before installing.
    pub notes: String,
    /// When it was published (RFC 3339).
    pub pub_date: String,
    /// `<os>-<arch>` (`linux-x86_64`, `windows-x86_64`, `darwin-aarch64`), or
    /// `<os>-<arch>-<bundle>` for one kind of install only (`linux-x86_64-deb`) → its artifact.
    pub platforms: BTreeMap<String, Artifact>,
}

/// One platform's update artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// The file's name in the version's folder.
    pub file: String,
    /// The updater signature of the file (the content of the `.sig` file `tauri signer sign`
    /// writes).
    pub signature: String,
}

/// What the app's updater receives: Tauri's dynamic update format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateManifest {
    /// The newer version.
    pub version: String,
    /// Its notes.
    pub notes: String,
    /// When it was published.
    pub pub_date: String,
    /// Where to download the artifact.
    pub url: String,
    /// The artifact's signature.
    pub signature: String,
}

/// Why a release cannot be published or read.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// Not a semver version.
    #[error("version: expected a version like 1.4.0 (semver), got {0:?}")]
    Version(String),
    /// Not a known platform.
    #[error(
        "platform: expected <os>-<arch> or <os>-<arch>-<bundle> with os linux, windows or darwin, arch x86_64, aarch64, i686 or armv7 and bundle appimage, deb, rpm, nsis, msi or app (as the updater names them), got {0:?}"
    )]
    Platform(String),
    /// The signature is not one.
    #[error(
        "signature: expected the content of the artifact's .sig file (from `tauri signer sign`), got {0:?}"
    )]
    Signature(String),
    /// Empty notes.
    #[error("notes: say what changed; the coordinator reads it before installing")]
    Notes,
    /// A file problem. The OS error is part of the message, not a separate source, so that
    /// printing the error with its chain does not repeat it.
    #[error("{context}: {error}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        error: std::io::Error,
    },
    /// A `release.json` that cannot be read.
    #[error("{path} is damaged: {detail}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> ReleaseError {
    move |error| ReleaseError::Io { context, error }
}

/// The kinds of install the updater names in `{{bundle_type}}`: an update must be of the kind
/// installed (a `.deb` install cannot take an AppImage).
const BUNDLES: &[&str] = &["appimage", "deb", "rpm", "nsis", "msi", "app"];

/// Checks `<os>-<arch>`, or `<os>-<arch>-<bundle>`, against the names the updater fills in for
/// `{{target}}`, `{{arch}}` and `{{bundle_type}}`.
pub fn check_platform(platform: &str) -> Result<(), ReleaseError> {
    let mut parts = platform.split('-');
    let ok = matches!(parts.next(), Some("linux" | "windows" | "darwin"))
        && matches!(parts.next(), Some("x86_64" | "aarch64" | "i686" | "armv7"))
        && parts.next().is_none_or(|bundle| BUNDLES.contains(&bundle))
        && parts.next().is_none();
    if ok {
        Ok(())
    } else {
        Err(ReleaseError::Platform(platform.to_owned()))
    }
}

fn parse_version(version: &str) -> Result<Version, ReleaseError> {
    Version::parse(version.trim().trim_start_matches('v'))
        .map_err(|_| ReleaseError::Version(version.to_owned()))
}

/// The releases folder.
#[derive(Debug, Clone)]
pub struct Releases {
    dir: PathBuf,
}

impl Releases {
    /// The releases kept in `dir` (created on the first publish).
    pub fn new(dir: impl Into<PathBuf>) -> Releases {
        Releases { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Publishes `artifact` (copied into the version's folder) with its `signature` for
    /// `platform`. Publishing another platform of the same version adds it; publishing the
    /// same platform again replaces it (a re-signed artifact). Returns the stored release.
    pub fn publish(
        &self,
        version: &str,
        notes: &str,
        platform: &str,
        artifact: &Path,
        signature: &str,
    ) -> Result<Release, ReleaseError> {
        let parsed = parse_version(version)?;
        check_platform(platform)?;
        let signature = signature.trim();
        if signature.is_empty() || signature.contains(char::is_whitespace) {
            return Err(ReleaseError::Signature(signature.chars().take(40).collect()));
        }
        if notes.trim().is_empty() {
            return Err(ReleaseError::Notes);
        }
        let file = artifact
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.starts_with('.') && *n != "release.json")
            .ok_or_else(|| ReleaseError::Io {
                context: format!("artifact {}", artifact.display()),
                error: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "expected a file with a plain name",
                ),
            })?
            .to_owned();
        let folder = self.dir.join(parsed.to_string());
        std::fs::create_dir_all(&folder).map_err(io(format!("cannot create {}", folder.display())))?;
        let mut release = self.read(&folder)?.unwrap_or_else(|| Release {
            version: parsed.to_string(),
            notes: String::new(),
            pub_date: String::new(),
            platforms: BTreeMap::new(),
        });
        std::fs::copy(artifact, folder.join(&file)).map_err(io(format!(
            "cannot copy {} into {}",
            artifact.display(),
            folder.display()
        )))?;
        release.notes = notes.trim().to_owned();
        release.pub_date = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
        release.platforms.insert(platform.to_owned(), Artifact { file, signature: signature.to_owned() });
        let path = folder.join("release.json");
        let text = serde_json::to_string_pretty(&release)
            .map_err(|e| ReleaseError::Damaged { path: path.clone(), detail: e.to_string() })?;
        pluto_files::write_atomically(&path, pluto_files::Access::Shared, |out| {
            std::io::Write::write_all(out, text.as_bytes())
        })
        .map_err(io(format!("cannot write {}", path.display())))?;
        Ok(release)
    }

    fn read(&self, folder: &Path) -> Result<Option<Release>, ReleaseError> {
        let path = folder.join("release.json");
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| ReleaseError::Damaged { path, detail: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ReleaseError::Io { context: format!("cannot read {}", path.display()), error: e }),
        }
    }

    /// Every published release, oldest version first.
    pub fn list(&self) -> Result<Vec<Release>, ReleaseError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(ReleaseError::Io {
                    context: format!("cannot read {}", self.dir.display()),
                    error: e,
                })
            }
        };
        let mut releases = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(format!("cannot read {}", self.dir.display())))?;
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if let Some(release) = self.read(&entry.path())? {
                let version = parse_version(&release.version)?;
                releases.push((version, release));
            }
        }
        releases.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(releases.into_iter().map(|(_, r)| r).collect())
    }

    /// The newest release for `platform` (`<os>-<arch>`) that is newer than `current`, if any:
    /// never the same version, never a downgrade. A laptop whose install is of kind `bundle`
    /// gets that kind's artifact where the release has one, else the platform's. Any other
    /// bundle name (the updater says `unknown` for a build that is not installed from a bundle)
    /// gets the platform's. `base_url` is where this server is reached from the app.
    pub fn update_for(
        &self,
        platform: &str,
        bundle: Option<&str>,
        current: &str,
        base_url: &str,
    ) -> Result<Option<UpdateManifest>, ReleaseError> {
        check_platform(platform)?;
        if platform.matches('-').count() != 1 {
            return Err(ReleaseError::Platform(platform.to_owned()));
        }
        let current = parse_version(current)?;
        let specific = bundle.filter(|b| BUNDLES.contains(b)).map(|b| format!("{platform}-{b}"));
        let pick = |r: &Release| {
            specific.iter().chain([&platform.to_owned()]).find_map(|p| r.platforms.get(p)).cloned()
        };
        let newest = self
            .list()?
            .into_iter()
            .rev()
            .find(|r| pick(r).is_some() && parse_version(&r.version).is_ok_and(|v| v > current));
        Ok(newest.and_then(|r| {
            let artifact = pick(&r)?;
            Some(UpdateManifest {
                url: format!(
                    "{}/v1/releases/{}/{}",
                    base_url.trim_end_matches('/'),
                    r.version,
                    artifact.file
                ),
                version: r.version,
                notes: r.notes,
                pub_date: r.pub_date,
                signature: artifact.signature,
            })
        }))
    }

    /// The file of a published artifact; `None` unless `version` publishes exactly `file` (so a
    /// request cannot reach anything else on the disk).
    pub fn artifact(&self, version: &str, file: &str) -> Result<Option<PathBuf>, ReleaseError> {
        let Ok(version) = parse_version(version) else { return Ok(None) };
        let folder = self.dir.join(version.to_string());
        Ok(self
            .read(&folder)?
            .filter(|r| r.platforms.values().any(|a| a.file == file))
            .map(|_| folder.join(file)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("bytes of {name}")).unwrap();
        path
    }

    #[test]
    fn only_a_newer_version_for_the_platform_is_offered() {
        let dir = tempfile::tempdir().unwrap();
        let releases = Releases::new(dir.path().join("releases"));
        let a = artifact(dir.path(), "pluto_1.1.0_amd64.AppImage.tar.gz");
        releases.publish("1.1.0", "Faster list", "linux-x86_64", &a, "c2lnMQ==").unwrap();
        let b = artifact(dir.path(), "pluto_1.10.0_amd64.AppImage.tar.gz");
        releases.publish("1.10.0", "Sync settings", "linux-x86_64", &b, "c2lnMg==").unwrap();
        let w = artifact(dir.path(), "pluto_1.11.0_x64-setup.nsis.zip");
        releases.publish("1.11.0", "Windows only", "windows-x86_64", &w, "c2lnMw==").unwrap();

        let update = releases.update_for("linux-x86_64", None, "1.2.0", "http://h:1").unwrap().unwrap();
        assert_eq!(update.version, "1.10.0", "semver order, not text order");
        assert_eq!(update.url, "http://h:1/v1/releases/1.10.0/pluto_1.10.0_amd64.AppImage.tar.gz");
        assert_eq!(update.signature, "c2lnMg==");
        assert!(releases.update_for("linux-x86_64", None, "1.10.0", "http://h").unwrap().is_none());
        assert!(
            releases.update_for("linux-x86_64", None, "2.0.0", "http://h").unwrap().is_none(),
            "no downgrade"
        );
        assert!(releases.update_for("darwin-aarch64", None, "0.1.0", "http://h").unwrap().is_none());
        assert!(releases.artifact("1.10.0", "pluto_1.10.0_amd64.AppImage.tar.gz").unwrap().is_some());
        assert!(releases.artifact("1.10.0", "../../etc/passwd").unwrap().is_none());
        assert!(releases.artifact("1.10.0", "release.json").unwrap().is_none());
    }

    #[test]
    fn each_kind_of_install_gets_its_own_artifact_where_there_is_one() {
        let dir = tempfile::tempdir().unwrap();
        let releases = Releases::new(dir.path().join("releases"));
        let image = artifact(dir.path(), "pluto_2.0.0_amd64.AppImage");
        releases.publish("2.0.0", "New list", "linux-x86_64", &image, "aW1hZ2U=").unwrap();
        let deb = artifact(dir.path(), "pluto_2.0.0_amd64.deb");
        releases.publish("2.0.0", "New list", "linux-x86_64-deb", &deb, "ZGVi").unwrap();
        let url =
            |bundle| releases.update_for("linux-x86_64", bundle, "1.0.0", "http://h").unwrap().unwrap().url;
        assert_eq!(url(Some("deb")), "http://h/v1/releases/2.0.0/pluto_2.0.0_amd64.deb");
        assert_eq!(url(Some("appimage")), "http://h/v1/releases/2.0.0/pluto_2.0.0_amd64.AppImage");
        assert_eq!(url(Some("unknown")), "http://h/v1/releases/2.0.0/pluto_2.0.0_amd64.AppImage");
        assert_eq!(url(None), "http://h/v1/releases/2.0.0/pluto_2.0.0_amd64.AppImage");
        // A newer release for .deb installs only is not offered to the others.
        let newer = artifact(dir.path(), "pluto_2.1.0_amd64.deb");
        releases.publish("2.1.0", "Deb fix", "linux-x86_64-deb", &newer, "bmV3ZXI=").unwrap();
        let version = |bundle| {
            releases.update_for("linux-x86_64", bundle, "1.0.0", "http://h").unwrap().unwrap().version
        };
        assert_eq!(version(Some("deb")), "2.1.0");
        assert_eq!(version(Some("appimage")), "2.0.0");
        assert!(releases.artifact("2.1.0", "pluto_2.1.0_amd64.deb").unwrap().is_some());
    }

    #[test]
    fn bad_input_names_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let releases = Releases::new(dir.path());
        let a = artifact(dir.path(), "a.tar.gz");
        let err = |r: Result<Release, ReleaseError>| r.unwrap_err().to_string();
        assert!(err(releases.publish("one", "n", "linux-x86_64", &a, "s")).starts_with("version:"));
        assert!(err(releases.publish("1.0.0", "n", "linux-amd64", &a, "s")).starts_with("platform:"));
        assert!(err(releases.publish("1.0.0", "n", "linux-x86_64-snap", &a, "s")).starts_with("platform:"));
        assert!(err(releases.publish("1.0.0", "n", "linux-x86_64-deb-x", &a, "s")).starts_with("platform:"));
        assert!(err(releases.publish("1.0.0", "n", "linux-x86_64", &a, " ")).starts_with("signature:"));
        assert!(err(releases.publish("1.0.0", " ", "linux-x86_64", &a, "s")).starts_with("notes:"));
        assert!(releases.list().unwrap().is_empty(), "nothing is published by a refused command");
    }
}
