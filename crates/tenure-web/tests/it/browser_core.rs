//! Chromium journeys for CORE's screens (issue 15): stub, filled in by the CORE screens work.
