use async_graphql::{Enum, Result};

use crate::error::AppError;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum LedgerEntryKind {
    /// Points earned at a partner.
    Issue,
    /// Points spent at a partner.
    Redeem,
    /// Points reserved at a checkout (`authorizeRedemption`).
    Hold,
    /// A hold captured, all or part.
    Capture,
    /// A hold voided.
    Void,
    /// A hold timed out.
    HoldExpiry,
    /// A partner took back points it issued (refund clawback).
    ReverseIssue,
    /// A partner gave back points redeemed at it (refund of a points purchase).
    ReverseRedeem,
    /// Points that reached their expiry date (breakage).
    Expiry,
    /// Points given to a linked family member (`transferPoints`).
    TransferOut,
    /// Points received from a linked family member.
    TransferIn,
    /// A campaign's bonus on an earn (its sponsor issued it).
    Bonus,
    /// Pending points of an earn or bonus made available at the end of a partner's return
    /// window (`relatedEntryId`: the earn or bonus).
    Release,
}

impl LedgerEntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerEntryKind::Issue => "ISSUE",
            LedgerEntryKind::Redeem => "REDEEM",
            LedgerEntryKind::Hold => "HOLD",
            LedgerEntryKind::Capture => "CAPTURE",
            LedgerEntryKind::Void => "VOID",
            LedgerEntryKind::HoldExpiry => "HOLD_EXPIRY",
            LedgerEntryKind::ReverseIssue => "REVERSE_ISSUE",
            LedgerEntryKind::ReverseRedeem => "REVERSE_REDEEM",
            LedgerEntryKind::Expiry => "EXPIRY",
            LedgerEntryKind::TransferOut => "TRANSFER_OUT",
            LedgerEntryKind::TransferIn => "TRANSFER_IN",
            LedgerEntryKind::Bonus => "BONUS",
            LedgerEntryKind::Release => "RELEASE",
        }
    }

    pub fn parse(text: &str) -> Result<LedgerEntryKind, AppError> {
        [
            LedgerEntryKind::Issue,
            LedgerEntryKind::Redeem,
            LedgerEntryKind::Hold,
            LedgerEntryKind::Capture,
            LedgerEntryKind::Void,
            LedgerEntryKind::HoldExpiry,
            LedgerEntryKind::ReverseIssue,
            LedgerEntryKind::ReverseRedeem,
            LedgerEntryKind::Expiry,
            LedgerEntryKind::TransferOut,
            LedgerEntryKind::TransferIn,
            LedgerEntryKind::Bonus,
            LedgerEntryKind::Release,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("unknown entry kind {text}")))
    }
}
