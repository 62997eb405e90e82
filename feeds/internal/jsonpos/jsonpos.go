// Package jsonpos adds line and column to encoding/json errors, so a parse
// error names the position in the file.
package jsonpos

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Unmarshal is json.Unmarshal with positions in its errors.
func Unmarshal(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return Describe(data, err)
	}
	return nil
}

// Describe adds "line L, column C" to a JSON syntax or type error.
func Describe(data []byte, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 {
		return err
	}
	line, col := 1, 1
	for i := int64(0); i < off && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}
