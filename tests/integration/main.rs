mod support;

mod smoke;
