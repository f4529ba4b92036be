#!/usr/bin/env python3
"""Writes pycases.json: what Python (3.11) makes of the inputs the
importer's readers must read the same way. The tests compare the Go
readers with it; run this again (python3 pycases.py > pycases.json) when
a case is added.

  ini:    configparser.RawConfigParser as supervisord sets it up
          (inline_comment_prefixes=(';', '#'), strict=False)
  split:  shlex.split, for command=
  env:    supervisord's dict_of_key_value_pairs, for environment=
  format: s % names, supervisord's expansion
"""
import configparser
import io
import json
import shlex


def ini(text):
    p = configparser.RawConfigParser(inline_comment_prefixes=(';', '#'), strict=False)
    try:
        p.read_file(io.StringIO(text, newline=None), 'f.conf')
    except configparser.MissingSectionHeaderError as e:
        return {"error_lines": [e.lineno]}
    except configparser.ParsingError as e:
        return {"error_lines": [n for n, _ in e.errors]}
    out = {"sections": [], "defaults": dict(p.defaults())}
    for s in p.sections():
        # items() would add the defaults: the section's own keys only.
        out["sections"].append([s, {k: v for k, v in p._sections[s].items()}])
    return out


def env(arg):
    lexer = shlex.shlex(str(arg), posix=True)
    lexer.wordchars += '/.+-():'
    try:
        tokens = list(lexer)
    except ValueError as e:
        return {"error": str(e)}
    d = []
    i = 0
    while i < len(tokens):
        k_eq_v = tokens[i:i + 3]
        if len(k_eq_v) != 3 or k_eq_v[1] != '=':
            return {"error": "unexpected end"}
        d.append([k_eq_v[0], k_eq_v[2]])
        i += 4
    return {"pairs": d}


def split(s):
    try:
        return {"words": shlex.split(s)}
    except ValueError as e:
        return {"error": str(e)}


NAMES = {"program_name": "web", "group_name": "grp", "here": "/etc/supervisor",
         "process_num": 7, "numprocs": 12, "neg": -5}


def fmt(s):
    try:
        return {"out": s % NAMES}
    except Exception as e:
        return {"error": type(e).__name__}


INI = [
    "[a]\nk = v\n",
    "[a]\nk: v\nK2 :v2\n",
    "[a]\nk=v ;comment\nj=v;not\nm=v #c\nn=v#not\n",
    "[a]\nk = a#b #c ;d\n",
    "[a]\nk = a;b ;c #d\n",
    "[a]\nk = a#b #c\n",
    "[a]\nk = x;y;z ;w\n",
    "; top comment\n# another\n[a]\nk=1\n",
    "[a]\nk = first\n  second\n\n  third\n\nj = 2\n",
    "[a]\nk = first\n  # a comment line\n  second\n",
    "[a]\nk = first\n\n\n",
    "  [a]\n  k = 1\n  j = 2\n    cont\n",
    "[a]\nk=1\n[b]\nk=2\n[a]\nk=3\nj=4\n",
    "[DEFAULT]\nx=1\n[a]\nk=2\n",
    "[a] trailing\nk=1\n",
    "[a]]\nk=1\n",
    "[a]x]\nk=1\n",
    "[]\n",
    "[]]\nk=1\n",
    "k=1\n[a]\n",
    "\n\n[a]\nbogus\nk=1\nalso bogus\n",
    "[a]\n=v\n",
    "[a]\nk=1\r\nj=2\rm=3\r\n",
    "[a]\nk=\tv\t\n",
    "[a]\nk = \n",
    "[a]\nk = a=b:c\n",
    "[a]\nk : a=b\n",
    "[a]\n k = 1\nj = 2\n",
    "[a]\nk = 1\n\tj = 2\n",
    "[a]\nk = 1\nbogus\n  cont\n",
    "[a]\ncommand=/bin/sh -c \"echo a ;b\"\n",
    "[a]\nk=x\u00a0;y\n",
    "[a]\nk=x\u2003#y\n",
    "[a]\nk=v\n\u00a0\u00a0more\n",
    "[a]\nk=#\n",
    "[a]\nk= ;\n",
    "[a:b]\nk=1\n[ a ]\nk=2\n",
    "[a]\nKEY=1\nkey=2\n",
    "[a]\nk=1\n\n[b]\n\n  k=2\n",
    "[a]\nk=1\n  \n  x\n",
]

SPLIT = [
    "a b  c", "  a\tb\n", "'a b' c", '"a b" c', 'a"b c"d', "a\\ b", '"a\\"b"', '"a\\b"',
    "'a\\b'", "'a'\"b\"", '""', "''", "a '' b", "\\", '"abc', "'abc", "a#b c", "nginx -g 'daemon off;'",
    '"\\\\"', "a\\\nb", "x \"\" y", "\u00e9t\u00e9 caf\u00e9", "a\u00a0b",
]

ENV = [
    'A="1"', 'A=1,B=2', 'A="a b",B=\'c,d\'', 'A=foo@bar', 'A=1;B=2', 'A=1 B=2',
    'A=x#comment\n,B=2', 'A="1",\n    B="2"', 'A=', 'A', 'A="1",', 'A=/usr/bin:/bin', 'A=a.b+c-d(e):f',
    'A="x"y', 'A=\\"q', 'A="unterminated', 'DISPLAY=":1",HOME="/root",USER="root"', 'HOME="/var/www"',
    'A=-1', 'A=caf\u00e9', 'A=1,,B=2',
]

FORMAT = [
    "plain", "%(program_name)s", "%%", "a%%b", "%(process_num)d", "%(process_num)02d", "%(process_num)03d",
    "%(process_num)-3d|", "%(process_num)+d", "%(process_num) d", "%(process_num)x", "%(process_num)#x",
    "%(process_num)X", "%(process_num)o", "%(process_num)#o", "%(process_num).3d", "%(process_num)5.3d",
    "%(process_num)s", "%(process_num)5s", "%(program_name)5s|", "%(program_name)-5s|", "%(program_name).2s",
    "%(program_name)d", "%(neg)d", "%(neg)05d", "%(neg)x", "%(numprocs)i", "%(numprocs)u", "%(nope)s",
    "%s", "%", "%(program_name)", "%(program_name", "%(here)s/x.log", "%(process_num)ld", "100%",
]

print(json.dumps({
    "ini": [[t, ini(t)] for t in INI],
    "split": [[s, split(s)] for s in SPLIT],
    "env": [[e, env(e)] for e in ENV],
    "format": [[f, fmt(f)] for f in FORMAT],
}, indent=1, ensure_ascii=False))
