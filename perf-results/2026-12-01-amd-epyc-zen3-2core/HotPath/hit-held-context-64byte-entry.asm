; Assembly listing for method FastPt.Benchmarks.Tlb.TlbBenchmarks:Translate(FastPt.MmuContext,ulong[]):ulong (Tier1)
; Emitting BLENDED_CODE for generic X64 + VEX on Unix
; Tier1 code
; optimized code
; optimized using Synthesized PGO
; rbp based frame
; fully interruptible
; with Synthesized PGO: fgCalledCount is 4
; 1 inlinees with PGO data; 14 single block inlinees; 0 inlinees without PGO data

G_M000_IG01:                ;; offset=0x0000
       push     rbp
       push     r15
       push     r14
       push     r13
       push     rbx
       lea      rbp, [rsp+0x20]
       mov      rbx, rdi
 
G_M000_IG02:                ;; offset=0x0010
       xor      r15d, r15d
       mov      r14, rsi
       xor      r13d, r13d
       cmp      dword ptr [r14+0x08], r13d
       jle      SHORT G_M000_IG05
 
G_M000_IG03:                ;; offset=0x001F
       mov      rsi, qword ptr [r14+8*r13+0x10]
       cmp      byte  ptr [rbx], bl
       lea      rdi, bword ptr [rbx+0x20]
       mov      rdx, qword ptr [rdi+0x60]
       mov      rax, gword ptr [rdi+0x30]
       cmp      rdx, qword ptr [rax+0x28]
       jne      G_M000_IG08
       mov      rdx, qword ptr [rdi+0xD0]
       mov      rax, rsi
       shr      rax, 5
       and      rax, qword ptr [rdi+0xC8]
       add      rdx, rax
       mov      rax, qword ptr [rdx]
       mov      rcx, rsi
       and      rcx, -0x1000
       or       rcx, qword ptr [rdi+0xE8]
       cmp      rax, rcx
       jne      SHORT G_M000_IG07
       mov      rdi, gword ptr [rdi+0x40]
       inc      qword ptr [rdi+0x48]
       and      rsi, 0xFFF
       or       rsi, qword ptr [rdx+0x20]
 
G_M000_IG04:                ;; offset=0x0080
       add      r15, rsi
       inc      r13d
       cmp      dword ptr [r14+0x08], r13d
       jg       SHORT G_M000_IG03
 
G_M000_IG05:                ;; offset=0x008C
       mov      rax, r15
 
G_M000_IG06:                ;; offset=0x008F
       pop      rbx
       pop      r13
       pop      r14
       pop      r15
       pop      rbp
       ret      
 
G_M000_IG07:                ;; offset=0x0098
       mov      rdx, qword ptr [rdi+0xE0]
       mov      rax, rsi
       shr      rax, 15
       and      rax, qword ptr [rdi+0xD8]
       add      rdx, rax
       mov      rax, qword ptr [rdx]
       mov      rcx, rsi
       and      rcx, -0x200000
       or       rcx, qword ptr [rdi+0xE8]
       cmp      rax, rcx
       jne      SHORT G_M000_IG08
       mov      rdi, gword ptr [rdi+0x40]
       inc      qword ptr [rdi+0x48]
       and      rsi, 0x1FFFFF
       add      rsi, qword ptr [rdx+0x20]
       jmp      SHORT G_M000_IG04
 
G_M000_IG08:                ;; offset=0x00DE
       xor      edx, edx
       call     [FastPt.Hardware.Cpu`1[FastPt.Mm.FrameMap]:TranslateSlow(ulong,int):ulong:this]
       cmp      rax, -1
       je       SHORT G_M000_IG09
       mov      rsi, rax
       jmp      SHORT G_M000_IG10
 
G_M000_IG09:                ;; offset=0x00F1
       xor      esi, esi
 
G_M000_IG10:                ;; offset=0x00F3
       jmp      SHORT G_M000_IG04
 
; Total bytes of code 245
