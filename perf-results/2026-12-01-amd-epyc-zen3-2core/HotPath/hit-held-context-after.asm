; Assembly listing for method FastPt.Benchmarks.Tlb.TlbBenchmarks:Translate(FastPt.MmuContext,ulong[]):ulong (Tier1)
; Emitting BLENDED_CODE for generic X64 + VEX on Unix
; Tier1 code
; optimized code
; optimized using Synthesized PGO
; rbp based frame
; fully interruptible
; with Synthesized PGO: fgCalledCount is 4
; 1 inlinees with PGO data; 16 single block inlinees; 0 inlinees without PGO data

G_M000_IG01:                ;; offset=0x0000
       push     rbp
       push     r15
       push     r14
       push     r13
       push     r12
       push     rbx
       push     rax
       lea      rbp, [rsp+0x30]
       mov      rbx, rdi
 
G_M000_IG02:                ;; offset=0x0013
       xor      r15d, r15d
       mov      r14, rsi
       xor      r13d, r13d
       mov      r12d, dword ptr [r14+0x08]
       cmp      r12d, r13d
       jg       SHORT G_M000_IG08
 
G_M000_IG03:                ;; offset=0x0025
       mov      rax, r15
 
G_M000_IG04:                ;; offset=0x0028
       add      rsp, 8
       pop      rbx
       pop      r12
       pop      r13
       pop      r14
       pop      r15
       pop      rbp
       ret      
 
G_M000_IG05:                ;; offset=0x0037
       mov      rdx, rsi
       shr      rdx, 21
       and      edx, dword ptr [rdi+0x12C]
       mov      rax, qword ptr [rdi+0xE0]
       movsxd   rcx, edx
       shl      rcx, 5
       mov      r9, rsi
       and      r9, -0x200000
       or       r8, r9
       cmp      qword ptr [rax+rcx], r8
       je       G_M000_IG11
 
G_M000_IG06:                ;; offset=0x0069
       xor      edx, edx
       call     [FastPt.Hardware.Cpu`1[FastPt.Mm.FrameMap]:TranslateSlow(ulong,int):ulong:this]
       cmp      rax, -1
       je       G_M000_IG12
       mov      rsi, rax
 
G_M000_IG07:                ;; offset=0x007E
       add      r15, rsi
       inc      r13d
       mov      r12d, dword ptr [r14+0x08]
       cmp      r12d, r13d
       jle      SHORT G_M000_IG03
 
G_M000_IG08:                ;; offset=0x008D
       mov      rsi, qword ptr [r14+8*r13+0x10]
       cmp      byte  ptr [rbx], bl
       lea      rdi, bword ptr [rbx+0x20]
       mov      rdx, qword ptr [rdi+0x60]
       mov      rax, gword ptr [rdi+0x30]
       cmp      rdx, qword ptr [rax+0x28]
       jne      SHORT G_M000_IG06
 
G_M000_IG09:                ;; offset=0x00A6
       mov      rdx, rsi
       shr      rdx, 11
       and      edx, dword ptr [rdi+0xC0]
       mov      rax, qword ptr [rdi+0xC8]
       movsxd   rcx, edx
       shl      rcx, 5
       mov      rax, qword ptr [rax+rcx]
       mov      rcx, rsi
       and      rcx, -0x1000
       mov      r8, qword ptr [rdi+0xF8]
       or       rcx, r8
       cmp      rax, rcx
       jne      G_M000_IG05
 
G_M000_IG10:                ;; offset=0x00E2
       mov      rax, gword ptr [rdi+0x40]
       inc      qword ptr [rax+0x08]
       mov      rdi, qword ptr [rdi+0xD0]
       movsxd   rdx, edx
       and      rsi, 0xFFF
       or       rsi, qword ptr [rdi+8*rdx]
       jmp      G_M000_IG07
 
G_M000_IG11:                ;; offset=0x0104
       mov      rax, gword ptr [rdi+0x40]
       inc      qword ptr [rax+0x08]
       mov      rdi, qword ptr [rdi+0xE8]
       movsxd   rdx, edx
       and      rsi, 0x1FFFFF
       add      rsi, qword ptr [rdi+8*rdx]
       jmp      G_M000_IG07
 
G_M000_IG12:                ;; offset=0x0126
       xor      esi, esi
       jmp      G_M000_IG07
 
; Total bytes of code 301

