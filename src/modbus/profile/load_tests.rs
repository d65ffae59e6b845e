//! Validation tests: every rejected profile names the point and the problem.

use super::*;

const HEADER: &str = r#"
name = "site"
vendor = "test"
register_kind = "holding"
address_base = 0
word_order = "high_first"
max_registers_per_read = 64
"#;

fn with_points(points: &str) -> String {
    format!("{HEADER}\n{points}")
}

fn point_problem(points: &str) -> (usize, String, PointProblem) {
    match Profile::from_toml_str(&with_points(points)) {
        Err(ProfileError::Point {
            index,
            field,
            problem,
            ..
        }) => (index, field, problem),
        other => panic!("expected a point error, got {other:?}"),
    }
}

#[test]
fn a_valid_profile_resolves_addresses_orders_and_factors() {
    let text = with_points(
        "[[points]]\nfield = \"energy_total_kwh\"\naddress = 5144\ntype = \"u32\"\nscale = 0.1\nword_order = \"CDAB\"\n",
    );
    let profile = Profile::from_toml_str(&text).unwrap();
    let point = profile.point(Field::EnergyTotalKwh).unwrap();
    assert_eq!(point.address, 5144);
    assert_eq!(point.word_order, WordOrder::LowFirst);
    assert_eq!(point.factor, Factor::Divide(10.0));
    assert_eq!(profile.max_gap, 0);
}

#[test]
fn a_one_based_profile_subtracts_one_from_document_addresses() {
    let text = with_points("[[points]]\nfield = \"ac_power_w\"\naddress = 5031\ntype = \"u32\"\n")
        .replace("address_base = 0", "address_base = 1");
    let profile = Profile::from_toml_str(&text).unwrap();
    assert_eq!(profile.points[0].address, 5030);
    assert_eq!(profile.points[0].document_address, 5031);
}

#[test]
fn an_unknown_field_name_is_reported_with_the_point() {
    let (index, field, problem) =
        point_problem("[[points]]\nfield = \"ac_power\"\naddress = 1\ntype = \"u16\"\n");
    assert_eq!((index, field.as_str()), (1, "ac_power"));
    assert_eq!(problem, PointProblem::UnknownField("ac_power".into()));
}

#[test]
fn an_unknown_type_is_reported_and_the_message_names_point_and_type() {
    let text = with_points(
        "[[points]]\nfield = \"frequency_hz\"\naddress = 2\ntype = \"u16\"\n\
         [[points]]\nfield = \"ac_power_w\"\naddress = 32080\ntype = \"int32\"\n",
    );
    let message = Profile::from_toml_str(&text).unwrap_err().to_string();
    assert!(
        message.contains("point #2 (ac_power_w at 32080)"),
        "{message}"
    );
    assert!(message.contains("unknown type \"int32\""), "{message}");
}

#[test]
fn overlapping_points_are_rejected() {
    let (index, _, problem) = point_problem(
        "[[points]]\nfield = \"ac_power_w\"\naddress = 10\ntype = \"u32\"\n\
         [[points]]\nfield = \"frequency_hz\"\naddress = 11\ntype = \"u16\"\n",
    );
    assert_eq!(index, 2);
    assert_eq!(
        problem,
        PointProblem::Overlap {
            other: 1,
            other_field: "ac_power_w".into()
        }
    );
}

#[test]
fn a_point_wider_than_one_read_is_rejected() {
    let text =
        with_points("[[points]]\nfield = \"energy_total_kwh\"\naddress = 0\ntype = \"u64\"\n")
            .replace("max_registers_per_read = 64", "max_registers_per_read = 2");
    let err = Profile::from_toml_str(&text).unwrap_err();
    assert!(matches!(
        err,
        ProfileError::Point {
            problem: PointProblem::TooLong { len: 4, max: 2 },
            ..
        }
    ));
}

#[test]
fn a_point_past_the_register_space_or_below_the_base_is_rejected() {
    let (_, _, problem) =
        point_problem("[[points]]\nfield = \"ac_power_w\"\naddress = 65535\ntype = \"u32\"\n");
    assert_eq!(problem, PointProblem::PastAddressSpace);
    let text = with_points("[[points]]\nfield = \"ac_power_w\"\naddress = 0\ntype = \"u16\"\n")
        .replace("address_base = 0", "address_base = 1");
    assert!(
        Profile::from_toml_str(&text)
            .unwrap_err()
            .to_string()
            .contains("below the profile's address_base 1")
    );
}

#[test]
fn the_same_field_twice_is_rejected() {
    let (_, _, problem) = point_problem(
        "[[points]]\nfield = \"ac_power_w\"\naddress = 1\ntype = \"u16\"\n\
         [[points]]\nfield = \"ac_power_w\"\naddress = 5\ntype = \"u16\"\n",
    );
    assert_eq!(problem, PointProblem::DuplicateField(1));
}

#[test]
fn gain_and_scale_together_are_rejected() {
    let (_, _, problem) = point_problem(
        "[[points]]\nfield = \"ac_power_w\"\naddress = 1\ntype = \"u16\"\ngain = 10\nscale = 0.1\n",
    );
    assert_eq!(problem, PointProblem::GainAndScale);
}

#[test]
fn a_unit_that_does_not_match_the_field_is_rejected() {
    let (_, _, problem) = point_problem(
        "[[points]]\nfield = \"ac_power_w\"\naddress = 1\ntype = \"u16\"\nscale = 0.1\nunit = \"kW\"\n",
    );
    assert_eq!(
        problem,
        PointProblem::UnitMismatch {
            unit: "kW".into(),
            expected: "W".into()
        }
    );
}

#[test]
fn a_status_point_needs_a_map_of_known_statuses() {
    let (_, _, problem) =
        point_problem("[[points]]\nfield = \"status\"\naddress = 1\ntype = \"u16\"\n");
    assert_eq!(problem, PointProblem::MissingStatusMap);
    let (_, _, problem) = point_problem(
        "[[points]]\nfield = \"status\"\naddress = 1\ntype = \"u16\"\n[points.status_map]\n\"1\" = \"ok\"\n",
    );
    assert!(matches!(problem, PointProblem::BadStatus(_)));
    let (_, _, problem) = point_problem(
        "[[points]]\nfield = \"status\"\naddress = 1\ntype = \"u16\"\n[points.status_map]\n\"0xZZ\" = \"running\"\n",
    );
    assert_eq!(problem, PointProblem::BadCode("0xZZ".into()));
}

#[test]
fn code_options_on_the_wrong_field_are_rejected() {
    let (_, _, problem) = point_problem(
        "[[points]]\nfield = \"ac_power_w\"\naddress = 1\ntype = \"u16\"\n[points.status_map]\n\"1\" = \"running\"\n",
    );
    assert_eq!(problem, PointProblem::StatusMapNotAllowed);
    let (_, _, problem) = point_problem(
        "[[points]]\nfield = \"ac_power_w\"\naddress = 1\ntype = \"u16\"\nfault_bits = true\n",
    );
    assert_eq!(problem, PointProblem::FaultOptionNotAllowed);
    let (_, _, problem) =
        point_problem("[[points]]\nfield = \"fault_code\"\naddress = 1\ntype = \"float32\"\n");
    assert_eq!(problem, PointProblem::FloatCode("float32"));
}

#[test]
fn a_misspelt_key_is_a_toml_error_not_a_silent_default() {
    let err = Profile::from_toml_str(&with_points(
        "[[points]]\nfield = \"ac_power_w\"\naddress = 1\ntype = \"u16\"\ngian = 10\n",
    ))
    .unwrap_err();
    assert!(matches!(err, ProfileError::Toml(_)));
    assert!(err.to_string().contains("gian"), "{err}");
}

#[test]
fn profile_wide_settings_are_validated() {
    let cases = [
        ("register_kind = \"holding\"", "register_kind = \"coil\""),
        ("address_base = 0", "address_base = 2"),
        ("word_order = \"high_first\"", "word_order = \"BADC\""),
        (
            "max_registers_per_read = 64",
            "max_registers_per_read = 200",
        ),
    ];
    let points = "[[points]]\nfield = \"ac_power_w\"\naddress = 1\ntype = \"u16\"\n";
    for (from, to) in cases {
        let text = with_points(points).replace(from, to);
        assert!(
            matches!(
                Profile::from_toml_str(&text),
                Err(ProfileError::Profile { .. })
            ),
            "{to}"
        );
    }
    assert!(matches!(
        Profile::from_toml_str(HEADER),
        Err(ProfileError::Profile {
            problem: ProfileProblem::NoPoints,
            ..
        })
    ));
}
