//! The rules a session cookie's name and attributes must keep, checked once
//! when the layer is built: browsers silently drop a cookie that breaks them,
//! and a value with `;` would inject attributes into the `Set-Cookie` header.

use cookie::SameSite;

use super::CookieCodec;
use crate::error::ConfigError;

impl CookieCodec {
    /// Checks the name and attributes, so that a configuration the browser
    /// would silently refuse fails at start-up instead.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !name_ok {
            return Err(ConfigError::InvalidCookieName(self.name.clone()));
        }
        check_attribute_values(self)?;
        check_attributes(self)
    }
}

/// Refuses `Path` and `Domain` values that would break the `Set-Cookie`
/// header or inject attributes into it.
fn check_attribute_values(codec: &CookieCodec) -> Result<(), ConfigError> {
    let printable = |v: &str| {
        !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_graphic() && b != b';' && b != b',')
    };
    if !printable(&codec.path) || !codec.path.starts_with('/') {
        return Err(ConfigError::InvalidAttribute {
            attribute: "Path",
            value: codec.path.clone(),
        });
    }
    if let Some(domain) = &codec.domain {
        if !printable(domain) {
            return Err(ConfigError::InvalidAttribute {
                attribute: "Domain",
                value: domain.clone(),
            });
        }
    }
    Ok(())
}

/// The rules browsers apply to a cookie's attributes (RFC 6265bis, CHIPS):
/// a cookie that breaks them is silently dropped, so they are checked here.
fn check_attributes(codec: &CookieCodec) -> Result<(), ConfigError> {
    let has_prefix = |prefix: &str| {
        codec
            .name
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    let host = has_prefix("__Host-");
    if (host || has_prefix("__Secure-")) && !codec.secure {
        return Err(ConfigError::PrefixWithoutSecure {
            name: codec.name.clone(),
        });
    }
    if host {
        if codec.path != "/" {
            return Err(ConfigError::HostPrefixWithPath {
                name: codec.name.clone(),
                path: codec.path.clone(),
            });
        }
        if let Some(domain) = &codec.domain {
            return Err(ConfigError::HostPrefixWithDomain {
                name: codec.name.clone(),
                domain: domain.clone(),
            });
        }
    }
    if codec.same_site == SameSite::None && !codec.secure {
        return Err(ConfigError::SameSiteNoneWithoutSecure);
    }
    if codec.partitioned && !codec.secure {
        return Err(ConfigError::PartitionedWithoutSecure);
    }
    Ok(())
}
