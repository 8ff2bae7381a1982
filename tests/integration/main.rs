mod support;

mod bad_input;
mod smoke;
mod unikernel;
