// Package itemerr is the error every parser returns for one entry of a
// document that could not be used, while the other entries go on.
package itemerr

import (
	"encoding/json"
	"fmt"
)

// Error names the format, the source and where in the document the entry
// is ("item 4", "vulnerabilities[2]"), and keeps the entry for the dead
// letters.
type Error struct {
	Format string
	Source string
	Where  string
	Err    error
	raw    []byte
}

// New records a bad entry; item is re-encoded as JSON for Raw.
func New(format, source, where string, err error, item any) *Error {
	raw, _ := json.Marshal(item)
	return &Error{Format: format, Source: source, Where: where, Err: err, raw: raw}
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: %s: %v", e.Format, e.Source, e.Where, e.Err)
}

// Unwrap gives the cause to errors.Is / errors.As.
func (e *Error) Unwrap() error { return e.Err }

// Raw is the entry as the source wrote it (re-encoded).
func (e *Error) Raw() []byte { return e.raw }
