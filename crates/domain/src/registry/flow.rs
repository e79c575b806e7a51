//! What an entry moves, as its payload states it ([`super::PayloadType::flow`]).

use crate::time::IsoDate;

/// What one entry moves, as it states it: material weighed in and out, parts counted.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Flow {
    /// Weight taken in: a processing step's starting weight, RGE's received weight.
    pub kg_in: Option<f64>,
    /// Weight put out: the inbound net weight, a processing step's output.
    pub kg_out: Option<f64>,
    /// Parts counted: the PO quantity, the parts made, the parts returned.
    pub parts: Option<u32>,
    /// When the material arrived, for a shipment that states it apart from its ship date.
    pub received_on: Option<IsoDate>,
    /// How long the process ran, as stated.
    pub hours: Option<f64>,
}
