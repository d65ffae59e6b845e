//! Property-based fuzzing of the Modbus decoders (issue 7) through the public API: register
//! word conversions, SunSpec chain walking, planning and decoding, and the shipped vendor
//! profiles. Any register values, short and long blocks, scale factors out of range,
//! NaN / infinity / sentinel patterns: never a panic, and every decoded value is finite
//! or absent (never NaN or infinity handed to ingest).
//!
//! Bounded for CI (a few seconds); `PROPTEST_CASES=100000 cargo test --test fuzz_modbus`
//! runs longer locally.

use proptest::prelude::*;
use pvledger::modbus::block::{MAX_REGISTERS_PER_READ, RegisterBlock};
use pvledger::modbus::profile::{Profile, shipped};
use pvledger::modbus::sunspec::{self, ChainWalker, ModelChain, ModelEntry};
use pvledger::modbus::words::{self, WordOrder, WordType};
use pvledger::reading::Reading;

/// `cases` unless PROPTEST_CASES says otherwise.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

fn assert_finite(reading: &Reading) -> Result<(), TestCaseError> {
    for (name, value) in [
        ("ac_power_w", reading.ac_power_w),
        ("dc_power_w", reading.dc_power_w),
        ("energy_total_kwh", reading.energy_total_kwh),
        ("export_energy_kwh", reading.export_energy_kwh),
        ("grid_voltage_v", reading.grid_voltage_v),
        ("frequency_hz", reading.frequency_hz),
        ("temperature_c", reading.temperature_c),
        ("irradiance_poa_wm2", reading.irradiance_poa_wm2),
        ("module_temp_c", reading.module_temp_c),
        ("ambient_temp_c", reading.ambient_temp_c),
    ] {
        prop_assert!(value.is_none_or(f64::is_finite), "{name} = {value:?}");
    }
    Ok(())
}

/// Register values with the interesting patterns over-represented: sentinels, NaN and
/// infinity halves, scale factors in and out of -10..=10, zero.
fn word() -> impl Strategy<Value = u16> {
    prop_oneof![
        3 => any::<u16>(),
        1 => prop::sample::select(vec![
            0x0000, 0xFFFF, 0x8000, 0x7FFF, 0x7FC0, 0x7F80, 0xFF80, 0x7F7F, 0x0001,
            10, 11, (-10i16) as u16, (-11i16) as u16, 0x5375, 0x6E53,
        ]),
    ]
}

fn order() -> impl Strategy<Value = WordOrder> {
    prop_oneof![Just(WordOrder::HighFirst), Just(WordOrder::LowFirst)]
}

/// Models this crate decodes, plus a few it skips.
fn model_id() -> impl Strategy<Value = u16> {
    prop_oneof![
        4 => prop::sample::select(vec![1u16, 101, 102, 103, 111, 112, 113, 120, 160]),
        1 => any::<u16>(),
    ]
}

/// Model lengths: mostly realistic, sometimes at the edges of u16.
fn length() -> impl Strategy<Value = u16> {
    prop_oneof![
        6 => 0u16..400,
        1 => prop::sample::select(vec![0u16, 1, 65533, 65534, 65535]),
        1 => any::<u16>(),
    ]
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn word_conversions_never_panic_and_floats_are_finite_or_absent(
        regs in prop::collection::vec(word(), 0..6),
        order in order(),
    ) {
        let _ = (words::raw_u16(&regs), words::raw_i16(&regs));
        let _ = (words::raw_u32(&regs, order), words::raw_i32(&regs, order));
        let _ = (words::raw_u64(&regs, order), words::raw_string(&regs));
        let _ = (words::sunspec_u16(&regs), words::sunspec_i16(&regs));
        let _ = (words::sunspec_u32(&regs, order), words::sunspec_i32(&regs, order));
        let _ = (words::sunspec_u64(&regs, order), words::sunspec_acc32(&regs, order));
        let _ = (words::sunspec_acc64(&regs, order), words::sunspec_string(&regs));
        prop_assert!(words::sunspec_f32(&regs, order).is_none_or(f64::is_finite));
        if let Some(sf) = words::sunspec_sf(&regs) {
            prop_assert!((-10..=10).contains(&sf));
            // The largest raw value any SunSpec integer type carries stays finite.
            prop_assert!(words::apply_sf(u64::MAX as f64, sf).is_finite());
        }
        let joined = words::join(&regs, order);
        prop_assert_eq!(joined.is_some(), (1..=4).contains(&regs.len()));
        if let Some(value) = joined {
            prop_assert_eq!(words::split(value, regs.len(), order), regs.clone());
        }
        for ty in WordType::ALL {
            let bits = ty.raw_bits(&regs, order);
            prop_assert_eq!(bits.is_some(), regs.len() >= usize::from(ty.register_count()));
            if let Some(bits) = bits {
                let _ = (ty.value(bits), ty.is_sunspec_sentinel(bits));
            }
        }
    }

    #[test]
    fn the_chain_walker_ends_or_errs_on_any_headers(
        first in any::<u16>(),
        headers in prop::collection::vec((model_id(), length()), 0..80),
    ) {
        let mut walker = ChainWalker::new(first);
        for (id, length) in headers {
            let Some(request) = walker.next_request() else { break };
            match walker.feed(request.address, [id, length]) {
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let chain = walker.finish();
        prop_assert!(chain.models.len() <= sunspec::MAX_MODELS);
        for m in &chain.models {
            prop_assert!(m.end() < 65535, "{m:?} runs past the address space");
        }
    }

}

proptest! {
    // Fewer cases: a long model 160 decodes thousands of modules.
    #![proptest_config(config(150))]

    #[test]
    fn sunspec_decoding_of_any_chain_and_blocks_gives_finite_values(
        models in prop::collection::vec((model_id(), any::<u16>(), length()), 0..6),
        blocks in prop::collection::vec(
            (any::<u16>(), prop::collection::vec(word(), 0..140)), 0..6),
        max in 1u16..=200,
    ) {
        // Entries straight from the fuzzer, not from the walker: lengths and addresses
        // anywhere, overlapping, past 65535.
        let chain = ModelChain {
            models: models
                .into_iter()
                .map(|(id, address, length)| ModelEntry { id, address, length })
                .collect(),
            complete: true,
        };
        let plan = sunspec::plan_reads(&chain, max);
        for r in &plan {
            prop_assert!(r.count >= 1 && r.count <= max.min(MAX_REGISTERS_PER_READ), "{r:?}");
            prop_assert!(r.end() <= 65536, "{r:?}");
        }
        let blocks: Vec<RegisterBlock> =
            blocks.into_iter().map(|(a, regs)| RegisterBlock::new(a, regs)).collect();
        let decoded = sunspec::decode(&chain, &blocks);
        assert_finite(&decoded.reading)?;
        prop_assert!(decoded.rated_power_w.is_none_or(f64::is_finite));
        for m in &decoded.mppt {
            for v in [m.dc_current_a, m.dc_voltage_v, m.dc_power_w, m.dc_energy_kwh, m.temperature_c] {
                prop_assert!(v.is_none_or(f64::is_finite), "{m:?}");
            }
        }
        if let Some(info) = &decoded.inverter {
            prop_assert!(info.dc_voltage_v.is_none_or(f64::is_finite));
            prop_assert!(info.dc_current_a.is_none_or(f64::is_finite));
        }
    }

    #[test]
    fn a_walked_chain_planned_and_read_from_garbage_registers_decodes_finite(
        ids in prop::collection::vec(model_id(), 1..5),
        lengths in prop::collection::vec(0u16..200, 5),
        image in prop::collection::vec(word(), 1200),
        max in 1u16..=125,
    ) {
        // The poller's flow on a device whose registers are garbage but whose headers
        // hold together: walk, plan, read the plan from the image, decode.
        let base = 40000u16;
        let mut regs = image;
        regs[0] = sunspec::MARKER[0];
        regs[1] = sunspec::MARKER[1];
        let mut at = 2usize;
        let mut walker = ChainWalker::new(base + 2);
        for (id, length) in ids.iter().zip(&lengths) {
            if at + 2 + usize::from(*length) + 2 > regs.len() { break; }
            regs[at] = *id;
            regs[at + 1] = *length;
            prop_assert!(walker.feed(base + at as u16, [*id, *length]).is_ok());
            at += 2 + usize::from(*length);
        }
        regs[at] = sunspec::END_MODEL_ID;
        prop_assert!(walker.feed(base + at as u16, [sunspec::END_MODEL_ID, 0]).is_ok());
        let chain = walker.finish();
        prop_assert!(chain.complete);
        let blocks: Vec<RegisterBlock> = sunspec::plan_reads(&chain, max)
            .into_iter()
            .map(|r| {
                let from = usize::from(r.address - base);
                let words = (from..from + usize::from(r.count))
                    .map(|i| regs.get(i).copied().unwrap_or(0))
                    .collect();
                RegisterBlock::new(r.address, words)
            })
            .collect();
        let decoded = sunspec::decode(&chain, &blocks);
        assert_finite(&decoded.reading)?;
        prop_assert!(
            !decoded.issues.iter().any(|i| matches!(i, sunspec::Issue::ModelNotRead { .. })),
            "every decodable model was planned: {:?}", decoded.issues
        );
    }

    #[test]
    fn shipped_profiles_decode_any_registers_to_finite_values(
        which in 0usize..shipped::ALL.len(),
        fill in prop::collection::vec(word(), 0..400),
        drop_block in any::<prop::sample::Index>(),
        short in any::<bool>(),
    ) {
        let profile = Profile::from_toml_str(shipped::ALL[which]).unwrap();
        let plan = profile.plan();
        let mut next = fill.iter().copied().cycle();
        let mut blocks: Vec<RegisterBlock> = plan
            .iter()
            .map(|r| {
                // A short answer (fewer registers than asked) now and then.
                let n = if short { usize::from(r.count) / 2 } else { usize::from(r.count) };
                let words = (0..n).map(|_| next.next().unwrap_or(0xFFFF)).collect();
                RegisterBlock::new(r.address, words)
            })
            .collect();
        if !blocks.is_empty() {
            blocks.remove(drop_block.index(blocks.len()));
        }
        let out = profile.decode(&blocks);
        assert_finite(&out.reading)?;
    }

    #[test]
    fn a_float32_profile_point_never_yields_nan_or_infinity(
        high in word(), low in word(), scale in prop::sample::select(vec![1e-300, 0.1, 1.0, 1e30, 1e300]),
    ) {
        let profile = Profile::from_toml_str(&format!(
            "name = \"f\"\nvendor = \"t\"\nregister_kind = \"holding\"\naddress_base = 0\nword_order = \"high_first\"\n\
             [[points]]\nfield = \"ac_power_w\"\naddress = 0\ntype = \"float32\"\nscale = {scale:e}\n\
             [[points]]\nfield = \"energy_total_kwh\"\naddress = 2\ntype = \"u64\"\nscale = {scale:e}\n"
        )).unwrap();
        let out = profile.decode(&[RegisterBlock::new(0, vec![high, low, high, low, high, low])]);
        assert_finite(&out.reading)?;
    }
}
