//go:build !purego

#include "textflag.h"

// notifyHandler is a C signal handler: the kernel enters it with the
// signal number in DI (the siginfo in SI and the ucontext in DX, unused),
// on the thread's signal stack, with every signal blocked (the flags,
// mask and restorer are the Go runtime's, see deliver_linux.go). It
// pushes nothing and keeps to registers a C callee may clobber; the
// kernel restores every register on sigreturn anyway. R8 holds the
// signal across system calls, which clobber only AX, CX and R11.
TEXT ·notifyHandler(SB),NOSPLIT|NOFRAME,$0
	MOVL	DI, R8			// a C int: the upper half cleared
	MOVL	$39, AX			// SYS_getpid
	SYSCALL
	CMPQ	AX, ·selfPID(SB)
	JNE	foreign
	LEAQ	·fwdOn(SB), AX		// forward it?
	MOVL	(AX)(R8*4), AX
	TESTL	AX, AX
	JZ	mark
	MOVQ	·fwdTarget(SB), DI
	TESTQ	DI, DI
	JZ	mark
	XORL	R10, R10		// R10: 1 if this handler notes a stop
	LEAQ	·fwdStamp(SB), AX	// a stop signal: note it in flight (-1)
	MOVL	(AX)(R8*4), AX		// before the kill, the time after it
	TESTL	AX, AX
	JZ	send
	MOVQ	DI, ·fwdStopTarget(SB)
	XORL	AX, AX
	MOVQ	$-1, R9
	LOCK
	CMPXCHGQ	R9, ·fwdStopNs(SB)	// 0 → -1: the first since the loop took it
	JNE	send
	MOVL	$1, R10
send:
	MOVQ	R8, SI			// kill(target, sig)
	MOVL	$62, AX			// SYS_kill
	SYSCALL
	TESTQ	AX, AX			// not sent (-errno): the loop sees to it
	JNZ	unsent
	TESTL	R10, R10
	JZ	told
	MOVL	$7, DI			// clock_gettime(CLOCK_BOOTTIME, &fwdStopTs)
	LEAQ	·fwdStopTs(SB), SI
	MOVL	$228, AX		// SYS_clock_gettime
	SYSCALL
	MOVQ	·fwdStopTs(SB), AX	// fwdStopNs = sec*1e9 + nsec
	IMULQ	$1000000000, AX
	ADDQ	·fwdStopTs+8(SB), AX
	XCHGQ	AX, ·fwdStopNs(SB)
	JMP	told
unsent:
	TESTL	R10, R10		// no stop after all
	JZ	mark
	XORL	AX, AX
	XCHGQ	AX, ·fwdStopNs(SB)
	JMP	mark
told:
	LEAQ	·fwdQuiet(SB), AX	// tell the loop?
	MOVL	(AX)(R8*4), AX
	TESTL	AX, AX
	JZ	sent
	RET				// sent, and the loop need not hear of it
sent:
	LEAQ	·fwdSent(SB), AX
	LOCK
	INCL	(AX)(R8*4)
mark:
	MOVQ	R8, CX			// pending[sig/64] |= 1 << (sig%64)
	ANDL	$63, CX
	MOVL	$1, R9
	SHLQ	CX, R9
	MOVQ	R8, R10
	SHRQ	$6, R10
	LEAQ	·pending(SB), AX
	LOCK
	ORQ	R9, (AX)(R10*8)
	MOVQ	·wakeFD(SB), DI		// write(wakeFD, &wakeOne, 8)
	LEAQ	·wakeOne(SB), SI
	MOVL	$8, DX
	MOVL	$1, AX			// SYS_write
	SYSCALL
	RET
foreign:
	// Not tend: a child of tend's between fork and exec, which still has
	// its handlers. Do what the kernel would have done: the default
	// action, on the same signal raised again, which arrives as soon as
	// this handler returns and unblocks it.
	MOVQ	R8, DI			// rt_sigaction(sig, &dflAction, NULL, 8)
	LEAQ	·dflAction(SB), SI
	XORL	DX, DX
	MOVL	$8, R10
	MOVL	$13, AX			// SYS_rt_sigaction
	SYSCALL
	MOVL	$39, AX			// SYS_getpid
	SYSCALL
	MOVQ	AX, DI			// kill(getpid(), sig)
	MOVQ	R8, SI
	MOVL	$62, AX			// SYS_kill
	SYSCALL
	RET

// func notifyHandlerAddr() uintptr
TEXT ·notifyHandlerAddr(SB),NOSPLIT,$0-8
	MOVQ	$·notifyHandler(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// childHandler is the C signal handler for SIGCHLD: it mutes SIGCHLD, with
// rt_sigaction(SIGCHLD, &childMuted, NULL, 8), and goes on as
// notifyHandler, which wakes the loop. One SIGCHLD reaches tend per reap,
// however many exits follow before the loop unmutes it (see
// child_linux.go).
TEXT ·childHandler(SB),NOSPLIT|NOFRAME,$0
	MOVL	$17, DI			// SIGCHLD
	LEAQ	·childMuted(SB), SI
	XORL	DX, DX
	MOVL	$8, R10			// sizeof(sigset_t)
	MOVL	$13, AX			// SYS_rt_sigaction
	SYSCALL
	MOVL	$17, DI
	JMP	·notifyHandler(SB)

// func childHandlerAddr() uintptr
TEXT ·childHandlerAddr(SB),NOSPLIT,$0-8
	MOVQ	$·childHandler(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// pipeHandler is the C signal handler for SIGPIPE. The kernel raises
// SIGPIPE at tend itself when tend writes to a pipe or socket nobody
// reads: that one is tend's own trouble, the write fails with EPIPE, and
// it is dropped here. It carries si_code SI_USER and tend's own pid as
// si_pid (send_sig with no info), or a positive si_code. Any other
// SIGPIPE was sent by someone with kill or sigqueue (si_code <= 0, a pid
// that is not tend's, or 0 from outside tend's pid namespace), and goes
// on as notifyHandler, to be forwarded as tini does. SI holds the
// siginfo: si_code at 8, si_pid at 16.
TEXT ·pipeHandler(SB),NOSPLIT|NOFRAME,$0
	MOVL	8(SI), AX		// si_code
	TESTL	AX, AX
	JG	own
	MOVLQSX	16(SI), AX		// si_pid
	CMPQ	AX, ·selfPID(SB)
	JEQ	own
	JMP	·notifyHandler(SB)
own:
	RET

// func pipeHandlerAddr() uintptr
TEXT ·pipeHandlerAddr(SB),NOSPLIT,$0-8
	MOVQ	$·pipeHandler(SB), AX
	MOVQ	AX, ret+0(FP)
	RET
