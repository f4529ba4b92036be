//go:build !purego

#include "textflag.h"

// func rawVfork(trap, a1, a2, a3 uintptr) (r1 uintptr, err syscall.Errno)
//
// clone with CLONE_VM|CLONE_VFORK: the child runs on the parent's stack
// until it execs or exits, while the parent is suspended. A leaf with no
// frame: the return address stays in the link register, which the
// kernel keeps, so the child's calls cannot overwrite it. Both processes
// write r1 and err; the parent writes them after the child is gone. The
// same as syscall.rawVforkSyscall, which Go does not export.
TEXT ·rawVfork(SB),NOSPLIT,$0-48
	MOVD	a1+8(FP), R0
	MOVD	a2+16(FP), R1
	MOVD	a3+24(FP), R2
	MOVD	$0, R3
	MOVD	$0, R4
	MOVD	$0, R5
	MOVD	trap+0(FP), R8
	SVC
	CMN	$4095, R0
	BCC	ok
	MOVD	$-1, R4
	MOVD	R4, r1+32(FP)
	NEG	R0, R0
	MOVD	R0, err+40(FP)
	RET
ok:
	MOVD	R0, r1+32(FP)
	MOVD	ZR, err+40(FP)
	RET
