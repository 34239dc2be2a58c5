//! Lean reading of GitHub's big payload objects.
//!
//! A `workflow_job` delivery is ~8.5 KB, most of it the `repository` (about ninety
//! keys), `organization` and `sender` objects, of which the service needs one string
//! each. Deserialising them into structs makes serde decode every key to compare it
//! with the field names; [`Picked`] decodes keys only until it found its field and
//! skims over the rest undecoded (serde's `IgnoredAny`), which is about a quarter of
//! the parse. [`Text`] borrows a string from the body instead of copying it, unless
//! it holds escapes.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

/// A JSON string, borrowed from the body where it can be.
#[derive(Debug, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor(PhantomData))
    }
}

struct TextVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
    type Value = Text<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
        Ok(Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }
}

impl Text<'_> {
    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Names the one field a [`Picked`] reads.
pub trait FieldName {
    /// The JSON key.
    const NAME: &'static str;
}

/// One string field of an object (`None` when absent or null); every other member is
/// skimmed over without being decoded.
pub struct Picked<'a, F>(pub Option<Text<'a>>, PhantomData<F>);

impl<'de: 'a, 'a, F: FieldName> Deserialize<'de> for Picked<'a, F> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PickVisitor(PhantomData))
    }
}

struct PickVisitor<'a, F>(PhantomData<(&'a (), F)>);

impl<'de: 'a, 'a, F: FieldName> Visitor<'de> for PickVisitor<'a, F> {
    type Value = Picked<'a, F>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an object with a {} string", F::NAME)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(wanted) = map.next_key_seed(IsKey(F::NAME))? {
            if wanted {
                found = map.next_value::<Option<Text<'a>>>()?;
                break;
            }
            map.next_value::<IgnoredAny>()?;
        }
        // The members after it are read as IgnoredAny, keys included: not decoded.
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Picked(found, PhantomData))
    }
}

/// Reads a key and says whether it is the wanted one, without keeping it.
struct IsKey(&'static str);

impl<'de> DeserializeSeed<'de> for IsKey {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for IsKey {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FullName;
    impl FieldName for FullName {
        const NAME: &'static str = "full_name";
    }

    fn pick(json: &str) -> Result<Option<String>, serde_json::Error> {
        let picked: Picked<FullName> = serde_json::from_str(json)?;
        Ok(picked.0.map(|text| text.as_str().to_owned()))
    }

    #[test]
    fn the_field_is_found_wherever_it_is_and_the_rest_is_skipped() {
        let first = r#"{"full_name":"o/r","owner":{"login":"o","x":[1,{"a":"}"}]},"z":null}"#;
        assert_eq!(pick(first).expect("valid"), Some("o/r".into()));
        let later = r#"{"id":1,"name":"r","full_name":"o/r","private":false}"#;
        assert_eq!(pick(later).expect("valid"), Some("o/r".into()));
        assert_eq!(pick(r#"{"id":1}"#).expect("valid"), None);
        assert_eq!(pick(r#"{"full_name":null}"#).expect("valid"), None);
    }

    #[test]
    fn escapes_are_decoded_and_bad_json_after_the_field_is_still_refused() {
        assert_eq!(
            pick(r#"{"full_name":"o\/r"}"#).expect("valid"),
            Some("o/r".into())
        );
        assert!(pick(r#"{"full_name":"o/r","x":}"#).is_err());
        assert!(pick(r#"{"full_name":5}"#).is_err());
    }
}
