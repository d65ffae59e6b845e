//! Sun, sky and expected PV output for pvledger: pure, I/O-free arithmetic.
//!
//! Most village stations (村级光伏扶贫电站) have no irradiance sensor. To tell a sick station
//! from a cloudy day, and night from an outage, the software needs to know where the sun
//! is and what a healthy array would produce under a clear sky. To demo and test all that
//! without real stations it needs plausible, repeatable weather. Everything here is plain
//! functions of numbers and instants: no clock, no files, no network, no global state.
//!
//! # Modules and data flow
//!
//! ```text
//! Site, date ───► suntimes ─► sunrise, solar noon, sunset
//! Site, instant ► position ─► SunPosition ─► clearsky::ClearSky ─► GHI, DNI, DHI (clear)
//! seed, date ───► weather ──► clear-sky index ─► simulate ─► GHI, DNI, DHI (cloudy)
//!                                 GHI, DNI, DHI ─► clearsky::plane_of_array ─► G on panels
//!                                          G, air temperature ─► pv::PvArray ─► AC kW
//!                                                    AC kW over time ─► energy ─► kWh
//! ```
//!
//! - [`position`]: sites, the sun's elevation and azimuth (NOAA/Meeus), `is_daylight`.
//! - [`suntimes`]: sunrise, solar noon and sunset for a local date.
//! - [`clearsky`]: cloudless-sky irradiance (Ineichen-Perez) and its transposition onto a
//!   tilted array (Hay-Davies, ground albedo).
//! - [`pv`]: the array: cell temperature (NOCT or Faiman) and the AC power formula.
//! - [`energy`]: the default air temperature, clear-sky power and energy over time.
//! - [`weather`]: a seeded day-by-day weather generator with Shanxi-like frequencies.
//! - [`random`]: SplitMix64, the small deterministic generator behind it.
//! - [`simulate`]: generated cloud applied to the clear sky, for simulators.
//!
//! Inside the project these are `crate::solar::*`; modules refer to each other with
//! `super::`, so the move needs no edits.
//!
//! # The expected-output model (预期发电量模型)
//!
//! For one instant, in six steps that can be checked by hand:
//!
//! 1. **Sun position.** Elevation and compass azimuth from the date, time and the station's
//!    latitude and longitude (NOAA solar calculator, after Meeus; better than 0.02°).
//!    Below the horizon, expected output is zero: night is never downtime.
//! 2. **Clear-sky light** on the ground: global (GHI), direct-normal (DNI) and diffuse
//!    (DHI) irradiance in W/m² from the Ineichen-Perez model. It needs the station's
//!    elevation (high stations get more direct light) and one haze number, the Linke
//!    turbidity, default 3.5 (2 = very clean air, 5-7 = hazy or dusty).
//! 3. **Light on the modules**, `G` in W/m² (plane-of-array, POA): direct light by the angle
//!    between sun and panel, sky light by how much sky the panel sees (Hay-Davies, which
//!    counts the bright ring around the sun as direct), ground reflection with albedo 0.2.
//! 4. **Cell temperature**: `T_cell = T_air + (NOCT − 20) / 800 × G`, NOCT default 45 °C
//!    (from the module datasheet). Without a thermometer, `T_air` comes from a smooth
//!    central-Shanxi curve: about −5 °C in mid-January and 24 °C in mid-July (daily mean),
//!    ±6 °C over the day, warmest at 15:00 solar time.
//! 5. **AC power**, kW:
//!    `P = P_dc × G / 1000 × (1 + γ × (T_cell − 25)) × η`, never above the inverters' AC
//!    rating, never below zero. `P_dc` is the nameplate DC capacity in kWp, γ = −0.0035
//!    per °C (−0.35 % per degree above 25 °C), η = 0.85 lumps soiling, cables, mismatch,
//!    inverter and transformer losses.
//! 6. **Energy**, kWh: power added up over the interval (every 5-15 minutes is enough).
//!
//! Worked example. A 300 kWp village station with 250 kW of inverters, panels at 35°
//! facing south, at 37.6°N, 1,200 m, clear noon on 21 June: `G` ≈ 1,010 W/m², air ≈ 27 °C,
//! so `T_cell` = 27 + 25/800 × 1,010 ≈ 59 °C, temperature factor = 1 − 0.0035 × 34 ≈ 0.88,
//! and `P` = 300 × 1.01 × 0.88 × 0.85 ≈ 227 kW: under the 250 kW rating, so no clipping.
//!
//! Typical results for 1 kWp at 35° south, 37.6°N, 1,200 m: a clear day gives about
//! 4.4 kWh in December, 6.2-6.4 in March-April (cool and bright) and 5.9 in June (hot
//! cells, sun high above the panel's normal); a year of clear days about 2,060 kWh; a year
//! of real weather 1,300-1,550 kWh (DOMAIN.md; the weather generator gives about 1,400).
//!
//! What the model leaves out, and what a gap between measured and expected may mean:
//! shading by hills or the next row (winter mornings and evenings first), snow, dust after
//! a storm, module ageing (about 0.5 % a year), inverter faults and grid curtailment. Use
//! the clear-sky figure on clear days, and the peer ratio within a county on all days
//! (DOMAIN.md §3): clouds are shared by neighbours, faults are not.
//!
//! | setting | default | where |
//! | --- | --- | --- |
//! | Linke turbidity | 3.5 | [`clearsky::ClearSky`] |
//! | ground albedo | 0.2 | [`pv::PvArray::albedo`] |
//! | γ, temperature coefficient | −0.0035 /°C | [`pv::PvArray::gamma_per_c`] |
//! | η, system efficiency | 0.85 | [`pv::PvArray::system_efficiency`] |
//! | NOCT | 45 °C | [`pv::CellTemperatureModel`] |
//! | AC rating | = DC rating | [`pv::PvArray::ac_kw`] |
//! | air temperature curve | central Shanxi | [`energy::Climate`] |
//! | sky-kind frequencies | central Shanxi | [`weather::WeatherModel`] |
//!
//! # Sources
//!
//! NOAA GML solar calculator / J. Meeus, *Astronomical Algorithms* (1998); I. Reda and
//! A. Andreas, NREL/TP-560-34302 (2004) for the test reference; P. Ineichen and R. Perez,
//! *Solar Energy* 73 (2002) 151-157 and R. Perez et al., *Solar Energy* 73 (2002) 307-317;
//! F. Kasten and A.T. Young, *Applied Optics* 28 (1989) 4735; G. Kopp and J. Lean,
//! *GRL* 38 (2011) L01706; J.E. Hay and J.A. Davies (1980); Ross (1976) / Duffie and
//! Beckman for NOCT; D. Faiman, *Prog. Photovolt.* 16 (2008) 307; D.G. Erbs, S.A. Klein and
//! J.A. Duffie, *Solar Energy* 28 (1982) 293; G. Steele, D. Lea and C. Flood, OOPSLA 2014
//! (SplitMix64).

pub mod clearsky;
pub mod energy;
pub mod position;
pub mod pv;
pub mod random;
pub mod simulate;
pub mod suntimes;
pub mod weather;
