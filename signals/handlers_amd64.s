#include "textflag.h"

// forwardHandler is a C signal handler: the kernel enters it with the
// signal number in DI, the siginfo in SI and the ucontext in DX, on the
// thread's signal stack (SA_ONSTACK, as the runtime installed it). It
// sends the signal on with kill(2) straight away, counts it, and jumps to
// the Go runtime's own handler with the three arguments as they came, so
// that os/signal still sees the signal. The runtime's handler returns to
// the restorer the kernel set up, as if it had been entered directly.
//
// It writes no memory but its counter, touches no Go state and keeps to
// registers the C ABI lets a callee clobber (the kernel restores all of
// them on sigreturn in any case).
TEXT ·forwardHandler(SB),NOSPLIT|NOFRAME,$0
	MOVL	DI, DI			// a C int: clear the upper half
	MOVQ	·fwdTarget(SB), AX
	TESTQ	AX, AX
	JZ	chain
	MOVQ	DI, R8
	MOVQ	SI, R9
	MOVQ	DX, R10
	MOVQ	AX, DI			// kill(target, sig)
	MOVQ	R8, SI
	MOVL	$62, AX			// SYS_kill
	SYSCALL
	MOVQ	R8, DI
	MOVQ	R9, SI
	MOVQ	R10, DX
	LEAQ	·fwdSent(SB), AX
	LOCK
	INCL	(AX)(DI*4)
chain:
	LEAQ	·fwdChain(SB), AX
	MOVQ	(AX)(DI*8), AX
	JMP	AX

// func forwardHandlerAddr() uintptr
TEXT ·forwardHandlerAddr(SB),NOSPLIT,$0-8
	MOVQ	$·forwardHandler(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// childHandler is the C signal handler for SIGCHLD (in DI, with the
// siginfo in SI and the ucontext in DX): it mutes SIGCHLD, with
// rt_sigaction(SIGCHLD, &childMuted, NULL, 8), and jumps to the Go
// runtime's handler, which wakes the loop. One SIGCHLD reaches tend per
// reap, however many exits follow before the loop unmutes it (see
// child_linux.go).
TEXT ·childHandler(SB),NOSPLIT|NOFRAME,$0
	MOVQ	SI, R8
	MOVQ	DX, R9
	MOVL	$17, DI			// SIGCHLD
	LEAQ	·childMuted(SB), SI
	XORL	DX, DX
	MOVL	$8, R10			// sizeof(sigset_t)
	MOVL	$13, AX			// SYS_rt_sigaction
	SYSCALL
	MOVL	$17, DI
	MOVQ	R8, SI
	MOVQ	R9, DX
	MOVQ	·childChain(SB), AX
	JMP	AX

// func childHandlerAddr() uintptr
TEXT ·childHandlerAddr(SB),NOSPLIT,$0-8
	MOVQ	$·childHandler(SB), AX
	MOVQ	AX, ret+0(FP)
	RET
