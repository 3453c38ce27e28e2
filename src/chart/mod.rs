//! Canvas charts drawn with plotters-canvas from windowed aggregates only.

pub mod sales;
