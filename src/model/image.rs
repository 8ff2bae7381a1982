//! Image references, parsed once: `repository[:tag][@digest]`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An image reference as written, split into its parts. Parsing never
/// fails: whether a reference is acceptable is `spec::fields::check_image`'s
/// call; this only splits, and shows the original text again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub struct ImageRef {
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// Splits `repo[:tag]` without mistaking a registry port for a tag.
pub fn split_tag(name: &str) -> (&str, Option<&str>) {
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    }
}

impl ImageRef {
    pub fn parse(text: &str) -> Self {
        let (name, digest) = match text.split_once('@') {
            Some((n, d)) => (n, Some(d.to_string())),
            None => (text, None),
        };
        let (repository, tag) = split_tag(name);
        ImageRef {
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest,
        }
    }

    /// Registry and path, without tag or digest: `r:5000/web`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// `sha256:<hex>` when the reference pins one.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The version shown everywhere: the tag, a short digest, or `latest`.
    pub fn version(&self) -> String {
        if let Some(digest) = &self.digest {
            let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
            // Not `&hex[..12]`: the image may come from podman unvalidated, and
            // byte 12 need not be a char boundary.
            let short: String = hex.chars().take(12).collect();
            return format!("sha256:{short}");
        }
        self.tag.clone().unwrap_or_else(|| "latest".to_string())
    }

    /// How a change from `self` to `to` reads: `v1 -> v2` when only the
    /// version moved, the full references otherwise.
    pub fn change_to(&self, to: &ImageRef) -> (String, String) {
        if self.repository == to.repository {
            (self.version(), to.version())
        } else {
            (self.to_string(), to.to_string())
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl From<String> for ImageRef {
    fn from(text: String) -> Self {
        ImageRef::parse(&text)
    }
}

impl From<ImageRef> for String {
    fn from(image: ImageRef) -> Self {
        image.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_without_mistaking_a_registry_port_for_a_tag() {
        let i = ImageRef::parse("registry:5000/app:v2");
        assert_eq!(
            (i.repository(), i.tag(), i.digest()),
            ("registry:5000/app", Some("v2"), None)
        );
        assert_eq!(i.version(), "v2");
        let i = ImageRef::parse("registry:5000/app");
        assert_eq!((i.repository(), i.tag()), ("registry:5000/app", None));
        assert_eq!(i.version(), "latest");
        let pinned = format!("r/app:v1@sha256:{}", "ab".repeat(32));
        let i = ImageRef::parse(&pinned);
        assert_eq!((i.repository(), i.tag()), ("r/app", Some("v1")));
        assert_eq!(i.version(), "sha256:abababababab");
        for text in ["registry:5000/app:v2", "app", &pinned, "a@b@c", "", ":x"] {
            assert_eq!(ImageRef::parse(text).to_string(), text);
        }
    }

    #[test]
    fn a_change_names_versions_only_within_one_repository() {
        let v1 = ImageRef::parse("r:5000/web:v1");
        assert_eq!(
            v1.change_to(&ImageRef::parse("r:5000/web:v2")),
            ("v1".into(), "v2".into())
        );
        assert_eq!(
            v1.change_to(&ImageRef::parse("r:5000/api:v2")),
            ("r:5000/web:v1".into(), "r:5000/api:v2".into())
        );
    }

    #[test]
    fn serializes_as_the_reference_text() {
        let i = ImageRef::parse("r:5000/web:v1");
        let json = serde_json::to_string(&i).unwrap();
        assert_eq!(json, "\"r:5000/web:v1\"");
        assert_eq!(serde_json::from_str::<ImageRef>(&json).unwrap(), i);
    }
}
