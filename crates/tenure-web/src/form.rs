//! Forms: typed extraction of urlencoded bodies (repeated keys included) and the one
//! helper that shows a form again with its errors.
