//! The console: app state, actions, event loop, views, widgets and themes.
//!
//! Not implemented yet.
