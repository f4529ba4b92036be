//go:build !purego

#include "textflag.h"

// notifyHandler: see handlers_amd64.s. On arm64 the kernel enters it with
// the signal number in R0 and the return address (the sigreturn
// trampoline) in the link register, which is left alone for RET. R4
// holds the signal across system calls, which clobber only R0.
TEXT ·notifyHandler(SB),NOSPLIT|NOFRAME,$0
	MOVWU	R0, R4			// a C int: the upper half cleared
	MOVD	$172, R8		// SYS_getpid
	SVC
	MOVD	$·selfPID(SB), R3
	MOVD	(R3), R3
	CMP	R3, R0
	BNE	foreign
	MOVD	$·fwdOn(SB), R3		// forward it?
	ADD	R4<<2, R3, R3
	MOVWU	(R3), R3
	CBZ	R3, mark
	MOVD	$·fwdTarget(SB), R3
	MOVD	(R3), R0
	CBZ	R0, mark
	MOVD	$0, R10			// R10: 1 if this handler notes a stop
	MOVD	$·fwdStamp(SB), R3	// a stop signal: note it in flight (-1)
	ADD	R4<<2, R3, R3		// before the kill, the time after it
	MOVWU	(R3), R3
	CBZ	R3, send
	MOVD	$·fwdStopTarget(SB), R3
	MOVD	R0, (R3)
	MOVD	$·fwdStopNs(SB), R3
cas:
	LDAXR	(R3), R5		// 0 → -1: the first since the loop took it
	CBNZ	R5, send
	MOVD	$-1, R6
	STLXR	R6, (R3), R9
	CBNZ	R9, cas
	MOVD	$1, R10
send:
	MOVD	R4, R1			// kill(target, sig)
	MOVD	$129, R8		// SYS_kill
	SVC
	CBNZ	R0, unsent		// not sent (-errno): the loop sees to it
	CBZ	R10, told
	MOVD	$7, R0			// clock_gettime(CLOCK_BOOTTIME, &fwdStopTs)
	MOVD	$·fwdStopTs(SB), R1
	MOVD	$113, R8		// SYS_clock_gettime
	SVC
	MOVD	$·fwdStopTs(SB), R3	// fwdStopNs = sec*1e9 + nsec
	MOVD	(R3), R5
	MOVD	8(R3), R6
	MOVD	$1000000000, R7
	MUL	R7, R5, R5
	ADD	R6, R5, R5
	MOVD	$·fwdStopNs(SB), R3
	STLR	R5, (R3)
	B	told
unsent:
	CBZ	R10, mark		// no stop after all
	MOVD	$·fwdStopNs(SB), R3
	STLR	ZR, (R3)
	B	mark
told:
	MOVD	$·fwdQuiet(SB), R3	// tell the loop?
	ADD	R4<<2, R3, R3
	MOVWU	(R3), R3
	CBZ	R3, sent
	RET				// sent, and the loop need not hear of it
sent:
	MOVD	$·fwdSent(SB), R3
	ADD	R4<<2, R3, R3
count:
	LDAXRW	(R3), R7
	ADDW	$1, R7, R7
	STLXRW	R7, (R3), R9
	CBNZ	R9, count
mark:
	AND	$63, R4, R5		// pending[sig/64] |= 1 << (sig%64)
	MOVD	$1, R6
	LSL	R5, R6, R6
	LSR	$6, R4, R5
	MOVD	$·pending(SB), R3
	ADD	R5<<3, R3, R3
setbit:
	LDAXR	(R3), R7
	ORR	R6, R7, R7
	STLXR	R7, (R3), R9
	CBNZ	R9, setbit
	MOVD	$·wakeFD(SB), R3	// write(wakeFD, &wakeOne, 8)
	MOVD	(R3), R0
	MOVD	$·wakeOne(SB), R1
	MOVD	$8, R2
	MOVD	$64, R8			// SYS_write
	SVC
	RET
foreign:
	// Not tend: see handlers_amd64.s.
	MOVD	R4, R0			// rt_sigaction(sig, &dflAction, NULL, 8)
	MOVD	$·dflAction(SB), R1
	MOVD	$0, R2
	MOVD	$8, R3
	MOVD	$134, R8		// SYS_rt_sigaction
	SVC
	MOVD	$172, R8		// SYS_getpid
	SVC
	MOVD	R4, R1			// kill(getpid(), sig)
	MOVD	$129, R8		// SYS_kill
	SVC
	RET

// func notifyHandlerAddr() uintptr
TEXT ·notifyHandlerAddr(SB),NOSPLIT,$0-8
	MOVD	$·notifyHandler(SB), R0
	MOVD	R0, ret+0(FP)
	RET

// childHandler: see handlers_amd64.s.
TEXT ·childHandler(SB),NOSPLIT|NOFRAME,$0
	MOVD	$17, R0			// SIGCHLD
	MOVD	$·childMuted(SB), R1
	MOVD	$0, R2
	MOVD	$8, R3			// sizeof(sigset_t)
	MOVD	$134, R8		// SYS_rt_sigaction
	SVC
	MOVD	$17, R0
	JMP	·notifyHandler(SB)

// func childHandlerAddr() uintptr
TEXT ·childHandlerAddr(SB),NOSPLIT,$0-8
	MOVD	$·childHandler(SB), R0
	MOVD	R0, ret+0(FP)
	RET

// pipeHandler: see handlers_amd64.s. R1 holds the siginfo.
TEXT ·pipeHandler(SB),NOSPLIT|NOFRAME,$0
	MOVW	8(R1), R3		// si_code, sign-extended
	CMP	$0, R3
	BGT	own
	MOVW	16(R1), R3		// si_pid, sign-extended
	MOVD	$·selfPID(SB), R5
	MOVD	(R5), R5
	CMP	R5, R3
	BEQ	own
	JMP	·notifyHandler(SB)
own:
	RET

// func pipeHandlerAddr() uintptr
TEXT ·pipeHandlerAddr(SB),NOSPLIT,$0-8
	MOVD	$·pipeHandler(SB), R0
	MOVD	R0, ret+0(FP)
	RET
