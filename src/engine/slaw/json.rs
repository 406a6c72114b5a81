//! JSON export of slawx. Not implemented yet.
