use async_graphql::{Enum, InputObject, SimpleObject};

use crate::domain::campaign::Slot;
use crate::error::AppError;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub(crate) enum DayOfWeek {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl DayOfWeek {
    fn weekday(self) -> chrono::Weekday {
        use chrono::Weekday::*;
        match self {
            DayOfWeek::Monday => Mon,
            DayOfWeek::Tuesday => Tue,
            DayOfWeek::Wednesday => Wed,
            DayOfWeek::Thursday => Thu,
            DayOfWeek::Friday => Fri,
            DayOfWeek::Saturday => Sat,
            DayOfWeek::Sunday => Sun,
        }
    }

    fn of(day: chrono::Weekday) -> Self {
        use chrono::Weekday::*;
        match day {
            Mon => DayOfWeek::Monday,
            Tue => DayOfWeek::Tuesday,
            Wed => DayOfWeek::Wednesday,
            Thu => DayOfWeek::Thursday,
            Fri => DayOfWeek::Friday,
            Sat => DayOfWeek::Saturday,
            Sun => DayOfWeek::Sunday,
        }
    }
}

/// A weekly time slot in the campaign's time zone: `from` to `to` ("HH:MM", `to` exclusive,
/// "24:00" the end of the day).
#[derive(InputObject, SimpleObject, Clone)]
#[graphql(input_name = "ScheduleSlotInput")]
pub(crate) struct ScheduleSlot {
    pub day: DayOfWeek,
    pub from: String,
    pub to: String,
}

fn minutes(text: &str) -> Result<u32, AppError> {
    let bad = || AppError::bad_input(format!("{text:?} is not a time of day as HH:MM"));
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h.to_string().len() > 2 || m >= 60 || h * 60 + m > 1440 || m.to_string().len() > 2 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl ScheduleSlot {
    pub(crate) fn to_slot(&self) -> Result<Slot, AppError> {
        Ok(Slot {
            day: self.day.weekday(),
            from_minute: minutes(&self.from)?,
            to_minute: minutes(&self.to)?,
        })
    }

    pub(crate) fn of(slot: &Slot) -> Self {
        let hhmm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        ScheduleSlot {
            day: DayOfWeek::of(slot.day),
            from: hhmm(slot.from_minute),
            to: hhmm(slot.to_minute),
        }
    }
}
