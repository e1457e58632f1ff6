//! The live shell around the core.
//!
//! The core decides everything and reads no clock; the VDA 5050 master
//! control (`borderlane-vda5050`) turns its commands into messages and the
//! vehicles' messages into its inputs. This crate only moves bytes and
//! time between them and the world:
//!
//! * [`clock`]: the shell's clock, milliseconds since the Unix epoch,
//!   optionally running faster than the wall clock;
//! * [`broker`]: the embedded MQTT broker (rumqttd);
//! * [`mqtt`]: the MQTT client, with TLS, last will, reconnection and
//!   resubscription;
//! * [`metrics`]: the Prometheus metrics and their HTTP endpoint;
//! * [`config`]: the configuration file of `borderlane serve`;
//! * [`scope`]: what a side's orchestrator controls, the one place where
//!   its side matters;
//! * [`shell_topics`]: job requests and operator commands in, events out;
//! * [`serve`]: the orchestrator's loop around one core and one master
//!   control, and the operation center (`borderlane-ioc`) it serves;
//! * [`vehicle`]: a simulated VDA 5050 vehicle on its own MQTT client;
//! * [`demo`]: broker, orchestrator, vehicles and a job feeder in one
//!   process;
//! * [`signal`]: Ctrl-C and SIGTERM.

pub mod broker;
pub mod clock;
pub mod config;
pub mod demo;
pub mod metrics;
pub mod mqtt;
mod operation_center;
pub mod scope;
pub mod serve;
pub mod shell_topics;
pub mod signal;
pub mod vehicle;
