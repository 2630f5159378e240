; Assembly listing for method FastPt.Benchmarks.Tlb.TlbBenchmarks:ReadHit():ulong:this (Tier1)
; Emitting BLENDED_CODE for generic X64 + VEX on Unix
; Tier1 code
; optimized code
; optimized using Synthesized PGO
; rbp based frame
; fully interruptible
; with Synthesized PGO: fgCalledCount is 4
; 1 inlinees with PGO data; 13 single block inlinees; 1 inlinees without PGO data

G_M000_IG01:                ;; offset=0x0000
       push     rbp
       push     r15
       push     r14
       push     r13
       push     rbx
       sub      rsp, 16
       lea      rbp, [rsp+0x30]
       xor      eax, eax
       mov      qword ptr [rbp-0x28], rax
 
G_M000_IG02:                ;; offset=0x0017
       xor      ebx, ebx
       mov      r15, gword ptr [rdi+0x18]
       mov      r14, gword ptr [rdi+0x60]
       xor      r13d, r13d
       cmp      dword ptr [r14+0x08], r13d
       jle      G_M000_IG05
 
G_M000_IG03:                ;; offset=0x002E
       mov      rsi, qword ptr [r14+8*r13+0x10]
       and      rsi, -8
       cmp      byte  ptr [r15], r15b
       lea      rdi, bword ptr [r15+0x20]
       mov      rdx, gword ptr [rdi+0x10]
       mov      dword ptr [rdx+0x48], 1
       mov      rcx, qword ptr [rdi+0x60]
       mov      rax, gword ptr [rdi+0x30]
       cmp      rcx, qword ptr [rax+0x28]
       jne      G_M000_IG08
       mov      rcx, rsi
       and      rcx, 0xFFF
       cmp      rcx, 0xFF8
       ja       G_M000_IG08
       mov      rcx, qword ptr [rdi+0xD0]
       mov      rax, rsi
       shr      rax, 5
       and      rax, qword ptr [rdi+0xC8]
       add      rcx, rax
       mov      rax, qword ptr [rcx]
       mov      r8, rsi
       and      r8, -0x1000
       or       r8, qword ptr [rdi+0xE8]
       cmp      rax, r8
       jne      SHORT G_M000_IG07
       mov      rcx, qword ptr [rcx+0x18]
       mov      rax, qword ptr [rsi+rcx]
       mov      rdi, gword ptr [rdi+0x40]
       inc      qword ptr [rdi+0x48]
       xor      esi, esi
       mov      dword ptr [rdx+0x48], esi
 
G_M000_IG04:                ;; offset=0x00B8
       add      rbx, rax
       inc      r13d
       cmp      dword ptr [r14+0x08], r13d
       jg       G_M000_IG03
 
G_M000_IG05:                ;; offset=0x00C8
       mov      rax, rbx
 
G_M000_IG06:                ;; offset=0x00CB
       add      rsp, 16
       pop      rbx
       pop      r13
       pop      r14
       pop      r15
       pop      rbp
       ret      
 
G_M000_IG07:                ;; offset=0x00D8
       mov      rax, qword ptr [rdi+0xE0]
       mov      rcx, rsi
       shr      rcx, 15
       and      rcx, qword ptr [rdi+0xD8]
       add      rcx, rax
       mov      rax, qword ptr [rcx]
       mov      r8, rsi
       and      r8, -0x200000
       or       r8, qword ptr [rdi+0xE8]
       cmp      rax, r8
       jne      SHORT G_M000_IG08
       mov      rcx, qword ptr [rcx+0x18]
       mov      rax, qword ptr [rsi+rcx]
       mov      rcx, gword ptr [rdi+0x40]
       inc      qword ptr [rcx+0x48]
       xor      ecx, ecx
       mov      dword ptr [rdx+0x48], ecx
       jmp      SHORT G_M000_IG04
 
G_M000_IG08:                ;; offset=0x0120
       xor      edx, edx
       mov      qword ptr [rbp-0x28], rdx
       lea      rdx, bword ptr [rbp-0x28]
       mov      ecx, 8
       call     [FastPt.Hardware.Cpu`1[FastPt.Mm.FrameMap]:ReadSlow(ulong,System.Span`1[byte]):this]
       mov      rax, qword ptr [rbp-0x28]
       jmp      G_M000_IG04
 
; Total bytes of code 318
