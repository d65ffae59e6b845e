//! A device's daily energy for a local calendar year, packed in one row
//! (`energy_daily_packs`, migration 0020; issue 7).
//!
//! A station's year of daily energy was 365 rows of `energy_daily` per device, and on
//! PostgreSQL reading and aggregating them was most of the database's share of the request.
//! A pack holds one device's days of one year up to `through`, as one blob; a year of a
//! station is then a row per device and year, plus the days after `through` (today, mostly)
//! from `energy_daily`. The packs are a copy: `energy_daily` stays what everything else
//! reads and writes, and a missing pack only means the slower read.
//!
//! What keeps a pack true (the roller and the packer both hold the device's roll-up lock):
//! - a pack holds exactly the `energy_daily` rows of its device and year up to `through`;
//! - the packer writes a device's packs for consecutive years, empty ones included, from
//!   the year of its first day with energy (or, for a device with none, the target's year):
//!   a year before a device's first pack has no rows;
//! - whatever rewrites a device's days from day D on deletes, in the same transaction, its
//!   packs whose `through` is D or later: a suffix of its years, so what is left still
//!   starts at the first year and runs on without a gap.
//!
//! The blob: a format byte (1), then per day its ordinal in the year (0-based, u16), the kWh
//! (f64) and the samples (i32), little-endian, in day order: 14 bytes a day, 5.1 kB a year,
//! under a PostgreSQL page, so that a pack is read from the row itself.

use chrono::{Datelike, NaiveDate};

use super::telemetry::DailyRow;

/// The blob's format byte.
const FORMAT: u8 = 1;
/// Bytes per day in the blob.
const DAY_BYTES: usize = 14;

/// One device's days of one year, up to and including `through`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pack {
    pub device_id: i64,
    pub year: i32,
    pub through: NaiveDate,
    /// In day order, all in `year` and on or before `through`.
    pub days: Vec<DailyRow>,
}

/// A stored pack without its days: what the packer compares with its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct PackExtent {
    pub device_id: i64,
    pub year: i32,
    pub through: NaiveDate,
}

impl Pack {
    /// The days as the stored blob.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + DAY_BYTES * self.days.len());
        out.push(FORMAT);
        for d in &self.days {
            // A day of the year's ordinal is at most 365: it fits a u16.
            out.extend_from_slice(&(d.day.ordinal0() as u16).to_le_bytes());
            out.extend_from_slice(&d.energy_kwh.to_le_bytes());
            out.extend_from_slice(&d.samples.to_le_bytes());
        }
        out
    }

    /// A stored pack from its row; an error names the device and year of a blob that does not
    /// parse.
    pub fn decode(
        device_id: i64,
        year: i32,
        through: NaiveDate,
        blob: &[u8],
    ) -> Result<Pack, String> {
        let bad = |what: &str| format!("energy_daily_packs of device {device_id}, {year}: {what}");
        let (&format, body) = blob.split_first().ok_or_else(|| bad("empty blob"))?;
        if format != FORMAT {
            return Err(bad(&format!("format {format}, expected {FORMAT}")));
        }
        if body.len() % DAY_BYTES != 0 {
            return Err(bad(&format!("{} bytes of days", body.len())));
        }
        let first = NaiveDate::from_yo_opt(year, 1).ok_or_else(|| bad("no such year"))?;
        let days = body
            .chunks_exact(DAY_BYTES)
            .map(|c| {
                let ordinal = u16::from_le_bytes([c[0], c[1]]);
                let day = first
                    .checked_add_days(chrono::Days::new(ordinal.into()))
                    .filter(|d| d.year() == year && *d <= through)
                    .ok_or_else(|| bad(&format!("day {ordinal} outside the pack")))?;
                Ok(DailyRow {
                    device_id,
                    day,
                    energy_kwh: f64::from_le_bytes(c[2..10].try_into().expect("8 bytes")),
                    samples: i32::from_le_bytes(c[10..14].try_into().expect("4 bytes")),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Pack {
            device_id,
            year,
            through,
            days,
        })
    }
}

impl Pack {
    /// A stored pack from its row, as the store reads it: a blob that does not parse is an
    /// error naming its device and year.
    pub fn from_row(
        device_id: i64,
        year: i32,
        through: NaiveDate,
        blob: &[u8],
    ) -> Result<Pack, sqlx::Error> {
        Pack::decode(device_id, year, through, blob).map_err(|e| sqlx::Error::Decode(e.into()))
    }
}

fn year_end(year: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, 12, 31).expect("a year's last day")
}

/// The last day through which a device's packs (ascending years, as read for a range that
/// starts in the first of them or earlier) cover it without a gap; `None` without packs.
/// Years before the first pack have no rows (see the module's invariants).
pub fn covered_through(packs: &[PackExtent]) -> Option<NaiveDate> {
    let mut end = packs.first()?.through;
    for pair in packs.windows(2) {
        // A gap cannot happen by the invariants; if one did, coverage stops before it.
        if pair[1].year != pair[0].year + 1 || pair[0].through != year_end(pair[0].year) {
            break;
        }
        end = pair[1].through;
    }
    Some(end)
}

/// Whether every device's packs (any order) cover it through the last of them, with no gap
/// between: then the days after its last pack are all [`merge`] needs to read.
fn ends_without_gaps(packs: &[Pack]) -> bool {
    let mut extents: Vec<PackExtent> = packs
        .iter()
        .map(|p| PackExtent {
            device_id: p.device_id,
            year: p.year,
            through: p.through,
        })
        .collect();
    extents.sort_unstable_by_key(|e| (e.device_id, e.year));
    extents
        .chunk_by(|a, b| a.device_id == b.device_id)
        .all(|of_device| covered_through(of_device) == of_device.last().map(|e| e.through))
}

/// The days of `device_ids` in [from, to], by day then device, from the packs of the years
/// of that range and the days read after them: `read(first)` reads `energy_daily` for
/// [first, to] (all the devices), and is called only when some device's packs stop short
/// of `to`.
pub async fn merge<F, Fut, E>(
    device_ids: &[i64],
    packs: Vec<Pack>,
    from: NaiveDate,
    to: NaiveDate,
    read: F,
) -> Result<Vec<DailyRow>, E>
where
    F: FnOnce(NaiveDate) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<DailyRow>, E>>,
{
    let mut packs = packs;
    packs.sort_unstable_by_key(|p| (p.device_id, p.year));
    // Per device, the last day its packs answer for.
    let mut covered: Vec<(i64, Option<NaiveDate>)> = Vec::with_capacity(device_ids.len());
    for id in device_ids {
        let extents: Vec<PackExtent> = packs
            .iter()
            .filter(|p| p.device_id == *id)
            .map(|p| PackExtent {
                device_id: p.device_id,
                year: p.year,
                through: p.through,
            })
            .collect();
        covered.push((*id, covered_through(&extents)));
    }
    let covered_of = |id: i64| covered.iter().find(|(d, _)| *d == id).and_then(|c| c.1);
    let first_unread = covered
        .iter()
        .map(|(_, end)| end.and_then(|e| e.succ_opt()).map_or(from, |d| d.max(from)))
        .min()
        .unwrap_or(from);
    let mut rows: Vec<DailyRow> = Vec::with_capacity(packs.iter().map(|p| p.days.len()).sum());
    for pack in packs {
        let end = covered_of(pack.device_id);
        rows.extend(
            pack.days
                .into_iter()
                .filter(|d| d.day >= from && d.day <= to && end.is_some_and(|e| d.day <= e)),
        );
    }
    if first_unread <= to {
        let read = read(first_unread).await?;
        rows.extend(read.into_iter().filter(|r| {
            covered
                .iter()
                .find(|(d, _)| *d == r.device_id)
                .is_some_and(|(_, end)| end.is_none_or(|e| r.day > e))
        }));
    }
    rows.sort_unstable_by_key(|r| (r.day, r.device_id));
    Ok(rows)
}

/// [`merge`] for a read that fetched, with the packs, each device's days after its last
/// pack (`after`): those are all it needs unless a device's packs have a gap, which their
/// invariants rule out; then `read` reads the rows again from the first day not covered.
pub async fn merge_after<F, Fut, E>(
    device_ids: &[i64],
    packs: Vec<Pack>,
    after: Vec<DailyRow>,
    from: NaiveDate,
    to: NaiveDate,
    read: F,
) -> Result<Vec<DailyRow>, E>
where
    F: FnOnce(NaiveDate) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<DailyRow>, E>>,
{
    let enough = ends_without_gaps(&packs);
    merge(device_ids, packs, from, to, |first| async move {
        if enough { Ok(after) } else { read(first).await }
    })
    .await
}

/// A device's packs for the years from `first_year` through `target`'s, each up to `target`
/// or its last day, from its `energy_daily` rows (`rows`, any order, any device: the
/// device's rows in those years are taken). Years without rows give empty packs, so that
/// the packs run on without a gap.
pub fn build(device_id: i64, first_year: i32, target: NaiveDate, rows: &[DailyRow]) -> Vec<Pack> {
    let mut packs: Vec<Pack> = (first_year..=target.year())
        .map(|year| Pack {
            device_id,
            year,
            through: target.min(year_end(year)),
            days: Vec::new(),
        })
        .collect();
    for r in rows {
        if r.device_id != device_id || r.day > target || r.day.year() < first_year {
            continue;
        }
        packs[(r.day.year() - first_year) as usize]
            .days
            .push(r.clone());
    }
    for p in &mut packs {
        p.days.sort_unstable_by_key(|d| d.day);
    }
    packs
}

/// The year from which a device's packs must be written to reach `target`, or `None` when
/// they already do. `stored` are its packs (ascending years); `first_day` is its first day
/// with energy, if any.
pub fn stale_from(
    stored: &[PackExtent],
    first_day: Option<NaiveDate>,
    target: NaiveDate,
) -> Option<i32> {
    match covered_through(stored) {
        Some(end) if end >= target => None,
        // Rewrite the year where coverage stops (its pack is short), and every year after.
        Some(end) => Some(end.succ_opt().map_or(end.year(), |d| d.year())),
        None => Some(first_day.unwrap_or(target).min(target).year()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn row(device_id: i64, day: NaiveDate, kwh: f64) -> DailyRow {
        DailyRow {
            device_id,
            day,
            energy_kwh: kwh,
            samples: (kwh * 7.0) as i32,
        }
    }

    /// Days of two devices over two years and a bit, with a gap year for device 2.
    fn stored_rows() -> Vec<DailyRow> {
        let mut rows = Vec::new();
        let mut d = day(2024, 11, 3);
        while d <= day(2026, 12, 1) {
            let n = d.ordinal() as f64;
            rows.push(row(1, d, n * 0.1 + 0.123_456_789));
            if d.year() != 2025 {
                rows.push(row(2, d, n * 0.2));
            }
            d = d.succ_opt().unwrap();
        }
        rows
    }

    fn within(rows: &[DailyRow], from: NaiveDate, to: NaiveDate) -> Vec<DailyRow> {
        let mut out: Vec<DailyRow> = rows
            .iter()
            .filter(|r| r.day >= from && r.day <= to)
            .cloned()
            .collect();
        out.sort_unstable_by_key(|r| (r.day, r.device_id));
        out
    }

    /// What [`merge`] gives for `device_ids`, and the first day it asked the rows for
    /// (`None`: it read none), the rows answering from `rows`.
    async fn merged(
        device_ids: &[i64],
        packs: Vec<Pack>,
        rows: &[DailyRow],
        from: NaiveDate,
        to: NaiveDate,
    ) -> (Vec<DailyRow>, Option<NaiveDate>) {
        let mut asked = None;
        let merged = merge(device_ids, packs, from, to, |first| {
            asked = Some(first);
            let read = within(rows, first, to);
            async move { Ok::<_, ()>(read) }
        })
        .await
        .unwrap();
        (merged, asked)
    }

    fn extents(packs: &[Pack]) -> Vec<PackExtent> {
        packs
            .iter()
            .map(|p| PackExtent {
                device_id: p.device_id,
                year: p.year,
                through: p.through,
            })
            .collect()
    }

    #[test]
    fn a_pack_round_trips_through_its_blob_bit_for_bit() {
        let rows = stored_rows();
        for pack in build(1, 2024, day(2026, 11, 30), &rows) {
            let back = Pack::decode(1, pack.year, pack.through, &pack.encode()).unwrap();
            assert_eq!(back, pack);
        }
        let empty = &build(2, 2025, day(2025, 12, 31), &rows)[0];
        assert!(empty.days.is_empty());
        assert_eq!(empty.encode(), vec![FORMAT]);
    }

    #[test]
    fn a_blob_that_does_not_parse_is_named() {
        let through = day(2026, 3, 1);
        let e = Pack::decode(7, 2026, through, &[FORMAT, 1, 2]).unwrap_err();
        assert!(e.contains("device 7, 2026") && e.contains("2 bytes"), "{e}");
        let e = Pack::decode(7, 2026, through, &[9]).unwrap_err();
        assert!(e.contains("format 9"), "{e}");
        // A day past `through`.
        let late = Pack {
            device_id: 7,
            year: 2026,
            through: day(2026, 3, 2),
            days: vec![row(7, day(2026, 3, 2), 1.0)],
        };
        let e = Pack::decode(7, 2026, through, &late.encode()).unwrap_err();
        assert!(e.contains("outside the pack"), "{e}");
    }

    #[tokio::test]
    async fn packs_and_the_days_after_them_give_what_the_rows_give() {
        let rows = stored_rows();
        let target = day(2026, 11, 29);
        let (from, to) = (day(2025, 12, 2), day(2026, 12, 1));
        let mut packs = build(1, 2024, target, &rows);
        packs.extend(build(2, 2024, target, &rows));
        packs.retain(|p| p.year >= from.year());
        let (merged, asked) = merged(&[1, 2], packs, &rows, from, to).await;
        // Only the two days after the packs were read from the rows.
        assert_eq!(asked, Some(day(2026, 11, 30)));
        assert_eq!(merged, within(&rows, from, to));
    }

    #[tokio::test]
    async fn a_device_without_packs_or_a_shortened_pack_is_read_from_the_rows() {
        let rows = stored_rows();
        let (from, to) = (day(2025, 12, 2), day(2026, 12, 1));
        // Device 1's 2026 pack was dropped (a late reading in March), device 2 has none.
        let packs: Vec<Pack> = build(1, 2024, day(2026, 11, 29), &rows)
            .into_iter()
            .filter(|p| p.year == 2025)
            .collect();
        let (merged_all, asked) = merged(&[1, 2], packs.clone(), &rows, from, to).await;
        assert_eq!(asked, Some(from));
        assert_eq!(merged_all, within(&rows, from, to));
        // Only device 1, with its 2025 pack: the read starts at the first day of 2026.
        let (merged, asked) = merged(&[1], packs, &rows, from, to).await;
        assert_eq!(asked, Some(day(2026, 1, 1)));
        let mut of_one = within(&rows, from, to);
        of_one.retain(|r| r.device_id == 1);
        assert_eq!(merged, of_one);
    }

    #[tokio::test]
    async fn packs_reaching_the_end_of_the_range_need_no_read() {
        let rows = stored_rows();
        let (from, to) = (day(2025, 1, 1), day(2025, 12, 31));
        let packs = build(2, 2025, day(2026, 11, 29), &rows);
        let merged = merge(&[2], packs, from, to, |_| async {
            Err::<Vec<DailyRow>, _>("read although packed")
        })
        .await
        .unwrap();
        // Device 2 has no days in 2025: an empty pack answers for the year.
        assert!(merged.is_empty());
    }

    #[test]
    fn coverage_runs_over_whole_years_and_stops_at_a_gap() {
        let rows = stored_rows();
        let packs = build(1, 2024, day(2026, 5, 1), &rows);
        assert_eq!(covered_through(&extents(&packs)), Some(day(2026, 5, 1)));
        let mut gap = extents(&packs);
        gap.remove(1);
        assert_eq!(covered_through(&gap), Some(day(2024, 12, 31)));
        assert_eq!(covered_through(&[]), None);
    }

    #[test]
    fn the_packer_rewrites_from_the_year_where_coverage_stops() {
        let rows = stored_rows();
        let target = day(2026, 11, 29);
        let first = Some(day(2024, 11, 3));
        // Nothing stored: from the first day's year; a device without days: the target's.
        assert_eq!(stale_from(&[], first, target), Some(2024));
        assert_eq!(stale_from(&[], None, target), Some(2026));
        // Packed to the day before: this year again.
        let packs = extents(&build(1, 2024, day(2026, 11, 28), &rows));
        assert_eq!(stale_from(&packs, first, target), Some(2026));
        assert_eq!(stale_from(&packs, first, day(2026, 11, 28)), None);
        // Packed to the last day of 2025: 2026 is new.
        let packs = extents(&build(1, 2024, day(2025, 12, 31), &rows));
        assert_eq!(stale_from(&packs, first, target), Some(2026));
        // Packed partway into 2025 (a year ago): 2025 is rewritten.
        let packs = extents(&build(1, 2024, day(2025, 6, 30), &rows));
        assert_eq!(stale_from(&packs, first, target), Some(2025));
    }

    #[test]
    fn building_splits_by_year_and_stops_at_the_target() {
        let rows = stored_rows();
        let packs = build(2, 2024, day(2026, 2, 10), &rows);
        let years: Vec<(i32, NaiveDate, usize)> = packs
            .iter()
            .map(|p| (p.year, p.through, p.days.len()))
            .collect();
        assert_eq!(
            years,
            vec![
                (2024, day(2024, 12, 31), 59),
                (2025, day(2025, 12, 31), 0),
                (2026, day(2026, 2, 10), 41)
            ]
        );
    }
}
