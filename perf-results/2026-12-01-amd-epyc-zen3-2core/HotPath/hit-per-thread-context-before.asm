; Assembly listing for method FastPt.Benchmarks.Tlb.TlbBenchmarks:TlbHitImplicitContext():ulong:this (Tier1)
; Emitting BLENDED_CODE for generic X64 + VEX on Unix
; Tier1 code
; optimized code
; optimized using Synthesized PGO
; rbp based frame
; fully interruptible
; with Synthesized PGO: fgCalledCount is 4
; 2 inlinees with PGO data; 17 single block inlinees; 0 inlinees without PGO data

G_M000_IG01:                ;; offset=0x0000
       push     rbp
       push     r15
       push     r14
       push     r13
       push     r12
       push     rbx
       push     rax
       lea      rbp, [rsp+0x30]
       xor      eax, eax
       mov      qword ptr [rbp-0x30], rax
 
G_M000_IG02:                ;; offset=0x0016
       mov      rbx, gword ptr [rdi+0x10]
       xor      r15d, r15d
       mov      r14, gword ptr [rdi+0x60]
       xor      r13d, r13d
       mov      r12d, dword ptr [r14+0x08]
       cmp      r12d, r13d
       jg       SHORT G_M000_IG09
 
G_M000_IG03:                ;; offset=0x002D
       mov      rax, r15
 
G_M000_IG04:                ;; offset=0x0030
       add      rsp, 8
       pop      rbx
       pop      r12
       pop      r13
       pop      r14
       pop      r15
       pop      rbp
       ret      
 
G_M000_IG05:                ;; offset=0x003F
       mov      rdi, rbx
       call     [FastPt.AddressSpace:CurrentContextSlow():FastPt.MmuContext:this]
       mov      rdi, rax
       jmp      G_M000_IG12
 
G_M000_IG06:                ;; offset=0x0050
       mov      rcx, r12
       shr      rcx, 21
       and      ecx, dword ptr [rsi+0x8C]
       mov      rsi, qword ptr [rsi+0x40]
       movsxd   rdx, ecx
       shl      rdx, 5
       mov      rax, r12
       and      rax, -0x200000
       or       rax, r8
       cmp      qword ptr [rsi+rdx], rax
       je       G_M000_IG16
 
G_M000_IG07:                ;; offset=0x007E
       lea      rcx, [rbp-0x30]
       mov      rsi, r12
       xor      edx, edx
       call     [FastPt.Hardware.Cpu`1[FastPt.Mm.FrameMap]:TranslateSlow(ulong,int,byref):bool:this]
 
G_M000_IG08:                ;; offset=0x008D
       add      r15, qword ptr [rbp-0x30]
       inc      r13d
       mov      r12d, dword ptr [r14+0x08]
       cmp      r12d, r13d
       jle      SHORT G_M000_IG03
 
G_M000_IG09:                ;; offset=0x009D
       mov      r12, qword ptr [r14+8*r13+0x10]
       cmp      byte  ptr [rbx], bl
       mov      rdi, 0x7FBC8CCA0D68
       mov      rax, 0x7FBC8D32B4B0
       call     rax
       cmp      dword ptr [rax], 28
       jle      G_M000_IG15
       mov      rdi, gword ptr [rax+0x08]
       mov      rax, bword ptr [rdi+0xE0]
       test     rax, rax
       je       G_M000_IG15
 
G_M000_IG10:                ;; offset=0x00D7
       mov      rdi, gword ptr [rax+0x10]
       test     rdi, rdi
       je       G_M000_IG05
 
G_M000_IG11:                ;; offset=0x00E4
       cmp      gword ptr [rdi+0x10], rbx
       jne      G_M000_IG05
 
G_M000_IG12:                ;; offset=0x00EE
       cmp      byte  ptr [rdi], dil
       add      rdi, 32
       mov      rcx, qword ptr [rdi+0x68]
       mov      rsi, gword ptr [rdi+0x38]
       cmp      rcx, qword ptr [rsi+0x28]
       jne      G_M000_IG07
 
G_M000_IG13:                ;; offset=0x0107
       mov      rcx, r12
       shr      rcx, 11
       mov      rsi, gword ptr [rdi+0x10]
       and      ecx, dword ptr [rsi+0x20]
       mov      rdx, qword ptr [rsi+0x28]
       movsxd   rax, ecx
       shl      rax, 5
       mov      rdx, qword ptr [rdx+rax]
       mov      rax, r12
       and      rax, -0x1000
       mov      r8, qword ptr [rsi+0x58]
       or       rax, r8
       cmp      rdx, rax
       jne      G_M000_IG06
 
G_M000_IG14:                ;; offset=0x013D
       mov      rsi, gword ptr [rdi+0x48]
       inc      qword ptr [rsi+0x08]
       mov      rdi, gword ptr [rdi+0x10]
       mov      rdi, qword ptr [rdi+0x30]
       movsxd   rcx, ecx
       mov      rsi, r12
       and      rsi, 0xFFF
       or       rsi, qword ptr [rdi+8*rcx]
       mov      qword ptr [rbp-0x30], rsi
       jmp      G_M000_IG08
 
G_M000_IG15:                ;; offset=0x0167
       mov      edi, 28
       call     CORINFO_HELP_GETDYNAMIC_GCTHREADSTATIC_BASE_NOCTOR_OPTIMIZED
       jmp      G_M000_IG10
 
G_M000_IG16:                ;; offset=0x0176
       mov      rsi, gword ptr [rdi+0x48]
       inc      qword ptr [rsi+0x08]
       mov      rdi, gword ptr [rdi+0x10]
       mov      rdi, qword ptr [rdi+0x48]
       movsxd   rcx, ecx
       and      r12, 0x1FFFFF
       add      r12, qword ptr [rdi+8*rcx]
       mov      qword ptr [rbp-0x30], r12
       jmp      G_M000_IG08
 
; Total bytes of code 413

