#include "textflag.h"

// forwardHandler: see handlers_amd64.s. On arm64 the kernel enters it with
// the signal number in R0, the siginfo in R1, the ucontext in R2 and the
// return address (the vDSO's sigreturn trampoline) in the link register,
// which is left alone so that the runtime's handler returns there.
TEXT ·forwardHandler(SB),NOSPLIT|NOFRAME,$0
	MOVWU	R0, R0			// a C int: clear the upper half
	MOVD	$·fwdTarget(SB), R3
	MOVD	(R3), R3
	CBZ	R3, chain
	MOVD	R0, R4
	MOVD	R1, R5
	MOVD	R2, R6
	MOVD	R3, R0			// kill(target, sig)
	MOVD	R4, R1
	MOVD	$129, R8		// SYS_kill
	SVC
	MOVD	R4, R0
	MOVD	R5, R1
	MOVD	R6, R2
	MOVD	$·fwdSent(SB), R3
	ADD	R0<<2, R3, R3
count:
	LDAXRW	(R3), R7
	ADDW	$1, R7, R7
	STLXRW	R7, (R3), R9
	CBNZ	R9, count
chain:
	MOVD	$·fwdChain(SB), R3
	ADD	R0<<3, R3, R3
	MOVD	(R3), R3
	JMP	(R3)

// func forwardHandlerAddr() uintptr
TEXT ·forwardHandlerAddr(SB),NOSPLIT,$0-8
	MOVD	$·forwardHandler(SB), R0
	MOVD	R0, ret+0(FP)
	RET

// childHandler: see handlers_amd64.s. SIGCHLD in R0, siginfo in R1,
// ucontext in R2.
TEXT ·childHandler(SB),NOSPLIT|NOFRAME,$0
	MOVD	R1, R4
	MOVD	R2, R5
	MOVD	$17, R0			// SIGCHLD
	MOVD	$·childMuted(SB), R1
	MOVD	$0, R2
	MOVD	$8, R3			// sizeof(sigset_t)
	MOVD	$134, R8		// SYS_rt_sigaction
	SVC
	MOVD	$17, R0
	MOVD	R4, R1
	MOVD	R5, R2
	MOVD	$·childChain(SB), R3
	MOVD	(R3), R3
	JMP	(R3)

// func childHandlerAddr() uintptr
TEXT ·childHandlerAddr(SB),NOSPLIT,$0-8
	MOVD	$·childHandler(SB), R0
	MOVD	R0, ret+0(FP)
	RET
