//go:build !purego

#include "textflag.h"

// func rawVfork(trap, a1, a2, a3 uintptr) (r1 uintptr, err syscall.Errno)
//
// clone with CLONE_VM|CLONE_VFORK: the child runs on the parent's stack
// until it execs or exits, while the parent is suspended. The return
// address is held in R12, which the kernel keeps, rather than on the
// stack, where the child's first call would overwrite it before the
// parent returns through it. Both processes write r1 and err; the
// parent writes them after the child is gone. The same trick as
// syscall.rawVforkSyscall, which Go does not export.
TEXT ·rawVfork(SB),NOSPLIT|NOFRAME,$0-48
	MOVQ	a1+8(FP), DI
	MOVQ	a2+16(FP), SI
	MOVQ	a3+24(FP), DX
	MOVQ	$0, R10
	MOVQ	$0, R8
	MOVQ	$0, R9
	MOVQ	trap+0(FP), AX
	POPQ	R12
	SYSCALL
	PUSHQ	R12
	CMPQ	AX, $0xfffffffffffff001
	JLS	ok
	MOVQ	$-1, r1+32(FP)
	NEGQ	AX
	MOVQ	AX, err+40(FP)
	RET
ok:
	MOVQ	AX, r1+32(FP)
	MOVQ	$0, err+40(FP)
	RET
