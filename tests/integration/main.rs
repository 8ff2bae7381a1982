mod support;

mod bad_input;
mod bridges;
mod containers;
mod faults;
mod generated;
mod registry_sync;
mod shim;
mod smoke;
mod terminal;
mod unikernel;
