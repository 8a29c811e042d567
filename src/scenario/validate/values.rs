//! One value at a time, as written: interface names, node names, VLAN ids, MACs and addresses,
//! each checked on its own (a lab-safe MAC, an address of the right family) with an error on the
//! value. Rules between values live with the stage that needs them.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use toml::Spanned;

use super::Builder;
use crate::addr::MacAddr;
use crate::delivery::UNKNOWN_UNICAST_MAC;
use crate::diag::Span;
use crate::scenario::IFNAME_MAX;
use crate::scenario::schema::SpannedStr;

/// Longest node name (it becomes part of a namespace name).
pub(super) const NODE_NAME_MAX: usize = 40;

fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= IFNAME_MAX
        && name != "."
        && name != ".."
        && !name.contains(['/', ':'])
        && !name.chars().any(char::is_whitespace)
}

/// Longest lab name and namespace prefix: namespace names stay short enough for humans and
/// file systems.
const LAB_WORD_MAX: usize = 64;

/// Whether `word` can be a lab name or a namespace prefix (`what` says which, for the message):
/// both become part of every namespace name, `<prefix>-<lab>-<node>`.
pub fn check_lab_word(what: &str, word: &str) -> Result<(), String> {
    let ok_chars = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if word.is_empty() || word.len() > LAB_WORD_MAX || !ok_chars || word.starts_with(['-', '.']) {
        return Err(format!(
            "`{word}` is not a valid {what}: use 1 to {LAB_WORD_MAX} letters, digits, `-`, `_` or `.`, not starting with `-` or `.`"
        ));
    }
    Ok(())
}

pub(in crate::scenario) fn valid_node_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.len() <= NODE_NAME_MAX
}

impl Builder {
    pub(super) fn ifname(&mut self, name: &str, span: Span, what: &str) -> bool {
        if valid_ifname(name) {
            return true;
        }
        let hint = if name.len() > IFNAME_MAX {
            format!(
                "interface names are at most {IFNAME_MAX} bytes (this one has {}); pick a shorter name",
                name.len()
            )
        } else {
            "interface names are 1 to 15 bytes without '/', ':' or spaces".to_string()
        };
        self.error(span, format!("`{name}` cannot be the name of {what}"), hint);
        false
    }

    /// A VLAN id, of a port table or a network.
    pub(super) fn vid(&mut self, raw: &Spanned<i64>) -> Option<u16> {
        match crate::addr::vlan_id(*raw.get_ref()) {
            Ok(id) => Some(id),
            Err(e) => {
                self.error(raw.span(), e, crate::addr::VLAN_ID_HINT);
                None
            }
        }
    }

    pub(super) fn mac(&mut self, raw: Option<&SpannedStr>) -> Option<Spanned<MacAddr>> {
        let raw = raw?;
        match raw.get_ref().parse::<MacAddr>() {
            Ok(mac) => {
                if !mac.is_lab_safe() {
                    self.error(
                        raw.span(),
                        format!("{mac} is not a locally administered unicast MAC"),
                        format!(
                            "lab MACs must have the 0x02 bit set and the 0x01 bit clear in the first octet, e.g. {}",
                            mac.into_lab_safe()
                        ),
                    );
                    return None;
                }
                if mac == UNKNOWN_UNICAST_MAC {
                    self.error(
                        raw.span(),
                        format!("{mac} is reserved as the matrix's unknown-unicast destination"),
                        "pick another MAC",
                    );
                    return None;
                }
                Some(Spanned::new(raw.span(), mac))
            }
            Err(e) => {
                self.error(
                    raw.span(),
                    e.to_string(),
                    "write six hex octets like 02:00:00:00:00:01",
                );
                None
            }
        }
    }

    pub(super) fn parse_addr<A: FromStr>(
        &mut self,
        raw: Option<&SpannedStr>,
        family: &str,
        example: &str,
    ) -> Option<Spanned<A>> {
        let raw = raw?;
        match raw.get_ref().parse::<A>() {
            Ok(a) => Some(Spanned::new(raw.span(), a)),
            Err(_) => {
                self.error(
                    raw.span(),
                    format!("`{}` is not an {family} address", raw.get_ref()),
                    format!("write it like {example}"),
                );
                None
            }
        }
    }

    pub(super) fn ipv4(&mut self, raw: Option<&SpannedStr>) -> Option<Spanned<Ipv4Addr>> {
        self.parse_addr(raw, "IPv4", "198.18.0.10")
    }

    pub(super) fn ipv6(&mut self, raw: Option<&SpannedStr>) -> Option<Spanned<Ipv6Addr>> {
        self.parse_addr(raw, "IPv6", "2001:2::10")
    }
}
