mod support;

mod bad_input;
mod bridges;
mod containers;
mod faults;
mod fixed_point_property;
mod fixed_points;
mod generated;
mod health;
mod isolation;
mod operator;
mod registry_sync;
mod shim;
mod smoke;
mod terminal;
mod unikernel;
mod update;
