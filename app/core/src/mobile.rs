//! Mobile numbers. A [`Mobile`] exists only when the number is valid, can receive text messages
//! and belongs to an allowed country; the browser only ever sees masked endings.

fn last_digits(number: &str, count: usize) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(count)..]
        .iter()
        .collect()
}

/// The last two digits, which is all the 2FA page shows of a number ("ending 23").
pub fn ending(number: &str) -> String {
    last_digits(number, 2)
}

/// A number as records and staff see it: all but the last three digits hidden ("***123").
pub fn masked(number: &str) -> String {
    format!("***{}", last_digits(number, 3))
}

use phonenumber::{country, metadata::DATABASE, Mode, PhoneNumber, Type};

/// A number that can receive the portal's text messages, kept in E.164 form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mobile(String);

/// Why a number was refused. The messages are shown beside the Mobile number field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MobileProblem {
    #[error("Please enter your mobile number.")]
    Missing,
    #[error("That doesn't look like a phone number. Please check it and try again.")]
    Invalid,
    #[error("Please enter a mobile number; landlines can't receive text messages")]
    Landline,
    #[error("Please enter a mobile number; freephone numbers can't receive text messages")]
    TollFree,
    #[error("Please enter a mobile number; this kind of number can't receive our text messages")]
    NotMobile,
    #[error("We can only send text messages to mobile numbers in {0}.")]
    CountryNotAllowed(String),
}

/// Longer input than any phone number is refused before parsing.
const MAX_INPUT: usize = 40;

impl Mobile {
    /// Parses what the patient typed. Numbers without `+` are read in `default_region`.
    pub fn parse(
        input: &str,
        default_region: country::Id,
        allowed: &[country::Id],
    ) -> Result<Self, MobileProblem> {
        let input = input.trim();
        if input.is_empty() {
            return Err(MobileProblem::Missing);
        }
        if input.chars().count() > MAX_INPUT {
            return Err(MobileProblem::Invalid);
        }
        let number =
            phonenumber::parse(Some(default_region), input).map_err(|_| MobileProblem::Invalid)?;
        if !phonenumber::is_valid(&number) {
            return Err(MobileProblem::Invalid);
        }
        match number.number_type(&DATABASE) {
            Type::Mobile | Type::FixedLineOrMobile => {}
            Type::FixedLine => return Err(MobileProblem::Landline),
            Type::TollFree => return Err(MobileProblem::TollFree),
            Type::Unknown => return Err(MobileProblem::Invalid),
            _ => return Err(MobileProblem::NotMobile),
        }
        let region = number.country().id();
        if !region.is_some_and(|id| allowed.contains(&id)) {
            return Err(MobileProblem::CountryNotAllowed(country_list(allowed)));
        }
        Ok(Self(e164(&number)))
    }

    /// Re-reads a number stored in E.164 form under today's rules (they may have changed
    /// since it was saved, and imported numbers were never checked).
    pub fn from_stored(
        stored: &str,
        default_region: country::Id,
        allowed: &[country::Id],
    ) -> Result<Self, MobileProblem> {
        Self::parse(stored, default_region, allowed)
    }

    pub fn e164(&self) -> &str {
        &self.0
    }

    pub fn ending(&self) -> String {
        ending(&self.0)
    }

    /// Its country's region code (NZ, AU…), as read when it was parsed.
    pub fn country(&self) -> String {
        country_of(&self.0)
    }

    /// The number less its last 4 digits: what the text fraud guard judges.
    pub fn prefix(&self) -> &str {
        &self.0[..self.0.len().saturating_sub(4)]
    }
}

/// The country (ISO 3166 code) of a number in E.164 form, or "unknown".
pub fn country_of(e164: &str) -> String {
    phonenumber::parse(None, e164)
        .ok()
        .and_then(|n| n.country().id())
        .map_or_else(|| "unknown".into(), |id| format!("{id:?}"))
}

fn e164(number: &PhoneNumber) -> String {
    number.format().mode(Mode::E164).to_string()
}

/// How the patient would write a stored number at home: national format for the default
/// region, international otherwise. Used to pre-fill the number field.
pub fn for_display(stored: &str, default_region: country::Id) -> String {
    match phonenumber::parse(Some(default_region), stored) {
        Ok(number) if number.country().id() == Some(default_region) => {
            number.format().mode(Mode::National).to_string()
        }
        Ok(number) => number.format().mode(Mode::International).to_string(),
        Err(_) => stored.to_string(),
    }
}

fn country_name(id: country::Id) -> String {
    use country::Id::*;
    match id {
        NZ => "New Zealand".into(),
        AU => "Australia".into(),
        US => "the United States".into(),
        CA => "Canada".into(),
        GB => "the United Kingdom".into(),
        IE => "Ireland".into(),
        other => format!("{other:?}"),
    }
}

fn country_list(allowed: &[country::Id]) -> String {
    let names: Vec<String> = allowed.iter().copied().map(country_name).collect();
    match names.as_slice() {
        [] => "the allowed countries".into(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use country::Id::{AU, NZ, US};

    fn parse(input: &str, allowed: &[country::Id]) -> Result<String, MobileProblem> {
        Mobile::parse(input, NZ, allowed).map(|m| m.e164().to_string())
    }

    #[test]
    fn real_numbers_are_sorted_into_mobiles_and_the_rest() {
        let cases: &[(&str, &[country::Id], Result<&str, MobileProblem>)] = &[
            ("021 555 0123", &[NZ], Ok("+64215550123")),
            ("+64 21 555 0123", &[NZ], Ok("+64215550123")),
            ("04 471 1234", &[NZ], Err(MobileProblem::Landline)),
            ("0800 123 456", &[NZ], Err(MobileProblem::TollFree)),
            (
                "+61 412 345 678",
                &[NZ],
                Err(MobileProblem::CountryNotAllowed("New Zealand".into())),
            ),
            ("+61 412 345 678", &[NZ, AU], Ok("+61412345678")),
            ("+1 201 555 0123", &[NZ, US], Ok("+12015550123")),
            ("not a number", &[NZ], Err(MobileProblem::Invalid)),
            ("12", &[NZ], Err(MobileProblem::Invalid)),
            ("", &[NZ], Err(MobileProblem::Missing)),
            ("   ", &[NZ], Err(MobileProblem::Missing)),
            (&"9".repeat(200), &[NZ], Err(MobileProblem::Invalid)),
        ];
        for (input, allowed, expected) in cases {
            let expected = expected.clone().map(str::to_string);
            assert_eq!(parse(input, allowed), expected, "input {input:?}");
        }
    }

    #[test]
    fn a_us_number_is_fixed_line_or_mobile_and_accepted() {
        let number = phonenumber::parse(None, "+1 201 555 0123").unwrap();
        assert_eq!(number.number_type(&DATABASE), Type::FixedLineOrMobile);
    }

    #[test]
    fn the_refusal_names_every_allowed_country() {
        assert_eq!(
            parse("+44 7400 123456", &[NZ, AU]),
            Err(MobileProblem::CountryNotAllowed(
                "New Zealand or Australia".into()
            ))
        );
    }

    #[test]
    fn numbers_display_as_the_patient_would_write_them() {
        assert_eq!(for_display("+64215550123", NZ), "021 555 0123");
        assert_eq!(for_display("+61412345678", NZ), "+61 412 345 678");
    }

    #[test]
    fn only_the_last_two_digits_are_shown() {
        assert_eq!(
            Mobile::parse("021 555 0123", NZ, &[NZ]).unwrap().ending(),
            "23"
        );
    }
}
