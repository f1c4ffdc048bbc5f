//! Oakley crypto provider. (to be written)
