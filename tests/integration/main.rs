mod support;

mod bad_input;
mod bridges;
mod containers;
mod faults;
mod generated;
mod health;
mod isolation;
mod operator;
mod registry_sync;
mod safety;
mod shim;
mod smoke;
mod terminal;
mod unikernel;
mod update;
