//! Who is calling: JWT verification ([`keys`]), the typed [`Principal`] a token becomes, the
//! partner scopes, OAuth2 client credentials ([`oauth`]) and secret hashing ([`secrets`]).

pub mod keys;
pub mod principal;
pub(crate) mod secrets;

pub use keys::{KeySet, TokenRequest, generate_ed25519};
pub use principal::{Principal, Role, Scope, Scopes};
