package logs

import (
	"encoding/binary"
	"time"
	"unicode/utf8"
)

// JSON lines: `stdout = "json"` writes each line of a program's output as
//
//	{"time":"2025-01-02T15:04:05.123456789Z","program":"web","stream":"stdout","line":"…"}
//
// and `tend ctl logs` reads the kept lines in the same form. time is when
// tend read the line (UTC, RFC 3339 with nanoseconds, trailing zeros
// dropped); line is the line without its '\n', escaped as JSON requires,
// with each byte that is not part of valid UTF-8 as U+FFFD, as
// encoding/json does.

// maxEscaped is the most bytes one input byte takes escaped: \u00XX, or
// \ufffd for a byte that is not UTF-8.
const maxEscaped = 6

// Stream names, the values of "stream".
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
)

// appendJSONHead appends the start of a JSON line, up to the opening
// quote of "line": the part every line of one read shares.
func appendJSONHead(dst []byte, at time.Time, program, stream string) []byte {
	dst = append(dst, `{"time":"`...)
	dst = at.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","program":`...)
	dst = appendJSONString(dst, program)
	dst = append(dst, `,"stream":`...)
	dst = appendJSONString(dst, stream)
	return append(dst, `,"line":"`...)
}

// jsonTail ends a JSON line.
const jsonTail = "\"}\n"

// AppendJSONLine appends line (without its '\n') as one JSON line.
func AppendJSONLine(dst []byte, at time.Time, program, stream string, line []byte) []byte {
	dst = appendJSONHead(dst, at, program, stream)
	dst = appendEscaped(dst, line)
	return append(dst, jsonTail...)
}

func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, []byte(s))
	return append(dst, '"')
}

// Masks for testing eight bytes at once (SWAR).
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special8 is zero when none of the eight bytes of w needs escaping:
// none is below 0x20, '"', '\\', or 0x80 and over (which may start a
// sequence that is not UTF-8). In a word whose bytes are all plain,
// w - 0x20 in each byte, and w^'"' - 1 and w^'\\' - 1, borrow nowhere and
// leave every high bit clear; a byte below 0x20, '"' or '\\' sets its own
// high bit in one of them, as a byte of 0x80 or over does in w. Borrows
// make false alarms only above a true one, so "is there any" is exact.
func special8(w uint64) uint64 {
	return ((w - ones*0x20) | w | (w ^ ones*'"' - ones) | (w ^ ones*'\\' - ones)) & highs
}

// appendEscaped appends s escaped for the inside of a JSON string: runs
// of bytes that need nothing are found eight at a time and copied whole.
func appendEscaped(dst []byte, s []byte) []byte {
	for {
		k := plainRun(s)
		dst = append(dst, s[:k]...)
		s = s[k:]
		if len(s) == 0 {
			return dst
		}
		c := s[0]
		switch {
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(s)
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[:size]...)
			}
			s = s[size:]
			continue
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		default: // below 0x20
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		s = s[1:]
	}
}

// plainRun is the length of s's first run of bytes that need no escaping.
func plainRun(s []byte) int {
	i := 0
	for ; i+32 <= len(s); i += 32 {
		w := s[i : i+32]
		if special8(binary.LittleEndian.Uint64(w))|special8(binary.LittleEndian.Uint64(w[8:]))|
			special8(binary.LittleEndian.Uint64(w[16:]))|special8(binary.LittleEndian.Uint64(w[24:])) != 0 {
			break
		}
	}
	for ; i+8 <= len(s); i += 8 {
		if special8(binary.LittleEndian.Uint64(s[i:])) != 0 {
			break
		}
	}
	// Fewer than eight left after plain words: the last word overlaps
	// them, and if it is plain, so is the rest.
	if len(s)-i < 8 && i >= 8 && special8(binary.LittleEndian.Uint64(s[len(s)-8:])) == 0 {
		return len(s)
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			break
		}
	}
	return i
}

const hexDigits = "0123456789abcdef"
