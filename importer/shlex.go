package importer

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// supervisord splits two values with Python's shlex module, in POSIX
// mode: a command with shlex.split (words split at blanks only, quotes
// and backslashes as a shell has them), and environment= with a shlex
// lexer that splits at punctuation too (KEY, =, VALUE, ",", ...). Both
// are the same state machine, set up differently; this is that machine,
// rule for rule, so that a command or an environment means here what it
// means to supervisord.

// lexer is shlex.shlex(posix=True) over runes.
type lexer struct {
	in string
	// split is whitespace_split: a word ends at a blank only.
	split bool
	// comments are the characters that start a comment to the end of
	// the line.
	comments string
	// word says which runes make up a word when split is off.
	word func(rune) bool
	// bare is called for each placeholder read outside quotes, and
	// returns the rune to keep in its place.
	bare func(rune) rune

	pos   int  // in bytes
	last  int  // the length of the rune read last
	state rune // ' ', 'a', a quote, '\\', or 0 at the end
}

const (
	blanks = " \t\r\n"
	quotes = `'"`
)

const (
	errNoClosingQuote = constError("no closing quotation")
	errNoEscaped      = constError(`no character after the last \`)
)

func (l *lexer) read() (rune, bool) {
	if l.pos >= len(l.in) {
		return 0, false
	}
	r, n := utf8.DecodeRuneInString(l.in[l.pos:])
	l.last = n
	l.pos += n
	return r, true
}

// unread gives back the rune read last.
func (l *lexer) unread() { l.pos -= l.last }

// skipLine skips to the end of the line, its \n included.
func (l *lexer) skipLine() {
	for l.pos < len(l.in) {
		l.pos++
		if l.in[l.pos-1] == '\n' {
			return
		}
	}
}

func (l *lexer) keep(r rune) rune {
	if isRef(r) && l.bare != nil {
		return l.bare(r)
	}
	return r
}

// next returns the next token, ok false at the end: shlex.read_token.
func (l *lexer) next() (tok string, ok bool, err error) {
	var b strings.Builder
	quoted := false
	escaped := ' ' // the state to go back to after an escape
	token := false // b holds a token (it may be empty only when quoted)
	for {
		r, more := l.read()
		switch {
		case l.state == 0:
			return "", false, nil
		case l.state == ' ':
			switch {
			case !more:
				l.state = 0
				return b.String(), token || quoted, nil
			case strings.ContainsRune(blanks, r):
				if token || quoted {
					return b.String(), true, nil
				}
			case strings.ContainsRune(l.comments, r):
				l.skipLine()
			case r == '\\':
				escaped, l.state = 'a', '\\'
			case l.word != nil && l.word(r):
				b.WriteRune(l.keep(r))
				token, l.state = true, 'a'
			case strings.ContainsRune(quotes, r):
				l.state = r
			case l.split:
				b.WriteRune(l.keep(r))
				token, l.state = true, 'a'
			default: // punctuation: a token of its own
				b.WriteRune(r)
				return b.String(), true, nil
			}
		case l.state == '"' || l.state == '\'':
			quoted = true
			switch {
			case !more:
				return "", false, errNoClosingQuote
			case r == l.state:
				l.state = 'a'
			case r == '\\' && l.state == '"':
				escaped, l.state = l.state, '\\'
			default:
				b.WriteRune(r)
			}
		case l.state == '\\':
			if !more {
				return "", false, errNoEscaped
			}
			// In quotes, only the quote itself and \ are escaped.
			if escaped != 'a' && r != '\\' && r != escaped {
				b.WriteByte('\\')
			}
			if escaped == 'a' {
				r = l.keep(r)
			}
			b.WriteRune(r)
			token, l.state = true, escaped
		default: // 'a', in a word
			switch {
			case !more:
				l.state = 0
				return b.String(), true, nil
			case strings.ContainsRune(blanks, r):
				l.state = ' '
				return b.String(), true, nil
			case strings.ContainsRune(l.comments, r):
				l.skipLine()
				l.state = ' '
				return b.String(), true, nil
			case strings.ContainsRune(quotes, r):
				l.state = r
			case r == '\\':
				escaped, l.state = 'a', '\\'
			case l.split || l.word != nil && l.word(r):
				b.WriteRune(l.keep(r))
			default: // punctuation ends the word and comes next
				l.unread()
				l.state = ' '
				return b.String(), true, nil
			}
		}
	}
}

// splitCommand is shlex.split(s): the words of a command. bare is
// called for each placeholder outside quotes.
func splitCommand(s string, bare func(rune) rune) ([]string, error) {
	l := &lexer{in: s, split: true, bare: bare, state: ' '}
	var words []string
	for {
		w, ok, err := l.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return words, nil
		}
		words = append(words, w)
	}
}

// envWordChars are shlex's word characters in POSIX mode, with the ones
// supervisord adds for environment=.
const envWordChars = "abcdfeghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_" +
	"ßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞ" + "/.+-():"

// envPair is one KEY=VALUE of environment=.
type envPair struct{ key, val string }

// parseEnv reads environment= as supervisord's dict_of_key_value_pairs:
// tokens KEY, =, VALUE, then one more token (the comma, whatever it is),
// and again. A placeholder counts as a word character: a value from the
// environment is taken to be one word, which is how it is meant.
func parseEnv(s string) ([]envPair, error) {
	l := &lexer{in: s, comments: "#", state: ' ', word: func(r rune) bool {
		return isRef(r) || strings.ContainsRune(envWordChars, r)
	}}
	var toks []string
	for {
		t, ok, err := l.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if len(toks) >= maxEnvTokens {
			return nil, fmt.Errorf("more than %d variables", maxEnvTokens/4)
		}
		toks = append(toks, t)
	}
	var out []envPair
	for i := 0; i < len(toks); i += 4 {
		if i+2 >= len(toks) || toks[i+1] != "=" {
			return nil, fmt.Errorf("not KEY=VALUE pairs: it ends after %q", strings.Join(toks[i:], " "))
		}
		out = append(out, envPair{toks[i], toks[i+2]})
	}
	return out, nil
}

// maxEnvTokens bounds the tokens of one environment=.
const maxEnvTokens = 4 * 4096
