//! Entra ID as the emulator serves it: signing keys, access/id/refresh tokens, and the endpoints
//! the MSAL-based clients call. `token` is pure (now passed in); `keys` owns the key file;
//! `endpoints` turns token requests into `Reply` values. Never touches hyper or the ARM store.

pub mod endpoints;
pub mod keys;
pub mod token;
