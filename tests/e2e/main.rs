//! End-to-end tests: the real `docward` binary on temp data dirs, spoken to by real clients.

mod util;

mod cli_keys;
mod console;
mod faults_docs;
mod faults_http;
mod faults_input;
mod faults_store;
mod first_hour;
mod http;
mod hybrid;
mod multiprocess;
mod node_clients;
mod python_sdk;
mod reminders;
mod rest;
mod soak;
mod stdio;
