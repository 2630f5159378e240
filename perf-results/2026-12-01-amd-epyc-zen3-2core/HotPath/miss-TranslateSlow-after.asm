; Assembly listing for method FastPt.Hardware.Cpu`1[FastPt.Mm.FrameMap]:TranslateSlow(ulong,int):ulong:this (Tier1)
; Emitting BLENDED_CODE for generic X64 + VEX on Unix
; Tier1 code
; optimized code
; optimized using Synthesized PGO
; rbp based frame
; fully interruptible
; with Synthesized PGO: fgCalledCount is 517308
; 24 inlinees with PGO data; 29 single block inlinees; 1 inlinees without PGO data

G_M000_IG01:                ;; offset=0x0000
       push     rbp
       push     r15
       push     r14
       push     r13
       push     r12
       push     rbx
       sub      rsp, 200
       lea      rbp, [rsp+0xF0]
       mov      bword ptr [rbp-0xD8], rdi
       mov      rbx, rsi
       mov      r15d, edx
 
G_M000_IG02:                ;; offset=0x0026
       mov      rsi, gword ptr [rdi+0x10]
       mov      dword ptr [rsi+0x18], 1
 
G_M000_IG03:                ;; offset=0x0031
       mov      rsi, qword ptr [rdi+0x60]
       mov      rax, gword ptr [rdi+0x30]
       cmp      rsi, qword ptr [rax+0x28]
       jne      G_M000_IG63
 
G_M000_IG04:                ;; offset=0x0043
       cmp      byte  ptr [rdi+0x78], 0
       jne      G_M000_IG63
       lea      r14, bword ptr [rdi+0xA8]
       mov      rax, r14
       mov      rsi, rbx
       and      rsi, -0x1000
       or       rsi, qword ptr [rdi+0xF8]
       mov      rcx, rbx
       and      rcx, -0x1000
       shr      rcx, 11
       and      ecx, dword ptr [rax+0x18]
       lea      edx, [rcx+0x01]
       movsxd   r8, edx
       shl      r8, 5
       add      r8, qword ptr [rax+0x20]
       cmp      byte  ptr [r8], r8b
       movsxd   r9, r15d
       cmp      qword ptr [r8+8*r9], rsi
       je       G_M000_IG26
 
G_M000_IG05:                ;; offset=0x0097
       cmp      rbx, qword ptr [rdi+0x58]
       ja       G_M000_IG63
       xor      esi, esi
       mov      qword ptr [rbp-0x38], rsi
       mov      rsi, r14
       mov      rax, gword ptr [rsi+0x08]
       mov      rcx, rbx
       shr      rcx, 21
       mov      esi, dword ptr [rsi+0x88]
       and      ecx, esi
       cmp      ecx, dword ptr [rax+0x08]
       jae      G_M000_IG58
       lea      rcx, [rcx+2*rcx]
       lea      rax, bword ptr [rax+8*rcx+0x10]
       mov      rcx, rbx
       shr      rcx, 21
       inc      rcx
       cmp      qword ptr [rax], rcx
       je       SHORT G_M000_IG09
 
G_M000_IG06:                ;; offset=0x00DE
       xor      r13d, r13d
       xor      r12d, r12d
       xor      ecx, ecx
 
G_M000_IG07:                ;; offset=0x00E6
       mov      dword ptr [rbp-0x58], ecx
       test     ecx, ecx
       jne      SHORT G_M000_IG10
 
G_M000_IG08:                ;; offset=0x00ED
       mov      rax, r14
       mov      rax, gword ptr [rax+0x10]
       mov      rdx, rbx
       shr      rdx, 30
       and      esi, edx
       cmp      esi, dword ptr [rax+0x08]
       jae      G_M000_IG58
       lea      rsi, [rsi+2*rsi]
       lea      rsi, bword ptr [rax+8*rsi+0x10]
       inc      rdx
       cmp      qword ptr [rsi], rdx
       jne      G_M000_IG63
       jmp      G_M000_IG28
 
G_M000_IG09:                ;; offset=0x0120
       mov      r13, qword ptr [rax+0x08]
       mov      r12d, dword ptr [rax+0x10]
       mov      ecx, 1
       jmp      SHORT G_M000_IG07
 
G_M000_IG10:                ;; offset=0x012F
       mov      rax, gword ptr [rdi]
       mov      rsi, qword ptr [rax+0x08]
       mov      rdx, r13
       shr      rdx, 27
       mov      rdx, qword ptr [rsi+8*rdx]
       test     rdx, rdx
       je       G_M000_IG27
 
G_M000_IG11:                ;; offset=0x014A
       mov      rsi, r13
       and      rsi, 0x7FFFFFF
       add      rsi, rdx
       mov      rax, rbx
       shr      rax, 12
       and      eax, 511
       cdqe     
       lea      r11, [rsi+8*rax]
       mov      r13, r11
       mov      qword ptr [rbp-0x48], r13
       mov      r8, qword ptr [r13]
       mov      rax, r8
 
G_M000_IG12:                ;; offset=0x0177
       xor      esi, esi
       mov      qword ptr [rbp-0x38], rsi
       mov      esi, 64
       xor      edx, edx
       cmp      r15d, 1
       cmovne   rsi, rdx
       or       rsi, 33
       mov      rdx, rax
       and      rdx, rsi
       cmp      rdx, rsi
       jne      G_M000_IG63
 
G_M000_IG13:                ;; offset=0x019F
       mov      esi, r12d
       mov      edx, eax
       and      edx, 2
       mov      dword ptr [rbp-0xC4], edx
       mov      r8d, r12d
       and      r8d, -2
       test     edx, edx
       cmove    esi, r8d
       mov      r8d, esi
       and      r8d, -3
       test     al, 4
       cmove    esi, r8d
       mov      r12, 0x8000000000000000
       and      r12, rax
       mov      r8d, esi
       or       r8d, 4
       test     r12, r12
       cmovne   esi, r8d
       test     sil, 2
       je       G_M000_IG63
       cmp      r15d, 1
       je       G_M000_IG40
 
G_M000_IG14:                ;; offset=0x01F6
       cmp      r15d, 2
       je       G_M000_IG41
 
G_M000_IG15:                ;; offset=0x0200
       mov      r8, 0xFFFFFFFFFF000
       and      r8, rax
       mov      qword ptr [rbp-0x70], r8
       mov      rdi, bword ptr [rbp-0xD8]
       lea      r9, bword ptr [rdi+0x80]
       mov      r10, qword ptr [r9+0x18]
       mov      r9, qword ptr [r9+0x20]
       mov      r11, r8
       shr      r11, 12
       mov      r13, r11
       shr      r13, 15
       cmp      r13, r9
       jae      G_M000_IG63
       add      r13, r13
       shr      r11, 9
       shrx     r9, qword ptr [r10+8*r13], r11
       test     r9b, 1
       je       G_M000_IG63
       mov      r9, gword ptr [rdi+0x40]
       inc      qword ptr [r9+0x10]
       mov      qword ptr [rbp-0x38], r8
       mov      r15, rbx
       and      r15, -0x1000
       mov      r13, r15
       or       r13, qword ptr [rdi+0xF8]
       mov      qword ptr [rbp-0x50], rax
       test     al, 64
       jne      G_M000_IG42
 
G_M000_IG16:                ;; offset=0x0281
       xor      r9d, r9d
 
G_M000_IG17:                ;; offset=0x0284
       movzx    r9, r9b
       mov      dword ptr [rbp-0x78], r9d
       test     r9d, r9d
       jne      G_M000_IG44
       mov      r10, gword ptr [rdi]
       mov      r11, qword ptr [r10+0x08]
       mov      rax, r8
       shr      rax, 27
       mov      rax, qword ptr [r11+8*rax]
       test     rax, rax
       je       G_M000_IG43
 
G_M000_IG18:                ;; offset=0x02B0
       mov      r10, r8
       and      r10, 0x7FFFFFF
       add      rax, r10
 
G_M000_IG19:                ;; offset=0x02BD
       mov      r10, r14
       mov      r11, r15
       shr      r11, 11
       and      r11d, dword ptr [r10+0x18]
       mov      dword ptr [rbp-0x94], r11d
       cmp      byte  ptr [r10+0x8C], 0
       jne      G_M000_IG47
 
G_M000_IG20:                ;; offset=0x02E0
       mov      r10, r13
       test     sil, 1
       jne      G_M000_IG56
 
G_M000_IG21:                ;; offset=0x02ED
       mov      r9, r13
       or       r9, 1
       mov      qword ptr [rbp-0x80], rax
 
G_M000_IG22:                ;; offset=0x02F8
       test     sil, 4
       sete     sil
       movzx    rsi, sil
       mov      rax, r13
       or       rax, 1
       test     esi, esi
       mov      rsi, rax
       cmovne   rsi, r13
       test     byte  ptr [rbp-0x50], 1
       je       G_M000_IG57
       mov      eax, 1
       mov      r13d, 3
       cmp      dword ptr [rbp-0xC4], 0
       cmovne   eax, r13d
       mov      edx, eax
       or       edx, 4
       test     r12, r12
       cmove    eax, edx
       mov      edx, eax
 
G_M000_IG23:                ;; offset=0x0341
       mov      rax, r15
       or       rax, 1
       movsxd   rdx, edx
       shl      rdx, 2
       or       rdx, rax
       movsxd   rax, r11d
       mov      r11, rax
       shl      r11, 5
       add      r11, qword ptr [r14+0x20]
       mov      qword ptr [r11], r10
       mov      qword ptr [r11+0x08], r9
       mov      qword ptr [r11+0x10], rsi
       mov      r13, qword ptr [rbp-0x80]
       sub      r13, r15
       mov      qword ptr [r11+0x18], r13
       mov      rsi, qword ptr [r14+0x28]
       mov      qword ptr [rsi+8*rax], r8
       mov      r9, rax
       shl      r9, 4
       add      r9, qword ptr [r14+0x30]
       mov      qword ptr [r9], rdx
       mov      r13, qword ptr [rbp-0x48]
       mov      qword ptr [r9+0x08], r13
       cmp      dword ptr [rbp-0x58], 0
       je       G_M000_IG59
 
G_M000_IG24:                ;; offset=0x039E
       mov      rdi, bword ptr [rbp-0xD8]
       mov      rsi, gword ptr [rdi+0x40]
       inc      qword ptr [rsi+0x18]
 
G_M000_IG25:                ;; offset=0x03AD
       and      rbx, 0xFFF
       or       rbx, qword ptr [rbp-0x38]
       mov      qword ptr [rbp-0x40], rbx
       jmp      G_M000_IG60
 
G_M000_IG26:                ;; offset=0x03C1
       mov      rdi, rax
       mov      esi, ecx
       call     [FastPt.Hardware.SoftTlb:Swap(int,int):this]
       mov      rdi, bword ptr [rbp-0xD8]
       mov      rax, gword ptr [rdi+0x40]
       inc      qword ptr [rax+0x08]
       mov      rax, qword ptr [rdi+0xD0]
       mov      rcx, rbx
       shr      rcx, 11
       and      ecx, dword ptr [rdi+0xC0]
       movsxd   rcx, ecx
       mov      rsi, rbx
       and      rsi, 0xFFF
       or       rsi, qword ptr [rax+8*rcx]
       mov      qword ptr [rbp-0x40], rsi
       jmp      G_M000_IG60
 
G_M000_IG27:                ;; offset=0x0409
       mov      rsi, r13
       shr      rsi, 27
       mov      rdi, rax
       call     [FastPt.Hardware.PhysicalMemory:CreateArena(ulong):nint:this]
       mov      rdx, rax
       jmp      G_M000_IG11
 
G_M000_IG28:                ;; offset=0x0421
       mov      r13, qword ptr [rsi+0x08]
       mov      r12d, dword ptr [rsi+0x10]
       xor      esi, esi
       mov      qword ptr [rbp-0x38], rsi
 
G_M000_IG29:                ;; offset=0x042F
       mov      dword ptr [rbp-0x54], esi
       mov      rdx, gword ptr [rdi]
       mov      rsi, qword ptr [rdx+0x08]
       mov      r8, r13
       shr      r8, 27
       mov      r8, qword ptr [rsi+8*r8]
       test     r8, r8
       jne      SHORT G_M000_IG31
 
G_M000_IG30:                ;; offset=0x0449
       mov      rsi, r13
       shr      rsi, 27
       mov      rdi, rdx
       call     [FastPt.Hardware.PhysicalMemory:CreateArena(ulong):nint:this]
       mov      r8, rax
 
G_M000_IG31:                ;; offset=0x045C
       and      r13, 0x7FFFFFF
       add      r8, r13
       mov      rsi, rbx
       shr      rsi, 21
       and      esi, 511
       movsxd   rsi, esi
       lea      r13, [r8+8*rsi]
       mov      r10, qword ptr [r13]
       mov      qword ptr [rbp-0x60], r10
       mov      esi, r10d
       and      esi, 161
       cmp      esi, 33
       je       SHORT G_M000_IG35
 
G_M000_IG32:                ;; offset=0x0490
       test     r10b, 128
       je       SHORT G_M000_IG34
 
G_M000_IG33:                ;; offset=0x0496
       lea      rsi, [rbp-0x38]
       mov      qword ptr [rsp], rsi
       mov      rdi, bword ptr [rbp-0xD8]
       mov      rsi, rbx
       mov      edx, r15d
       mov      rcx, r10
       mov      r8d, r12d
       mov      r9, r13
       call     [FastPt.Hardware.Cpu`1[FastPt.Mm.FrameMap]:TryFillPmdLeaf(ulong,int,ulong,int,ptr,byref):bool:this]
       mov      dword ptr [rbp-0x54], eax
 
G_M000_IG34:                ;; offset=0x04BD
       mov      eax, dword ptr [rbp-0x54]
       test     eax, eax
       mov      rdi, bword ptr [rbp-0xD8]
       je       G_M000_IG63
       jmp      G_M000_IG25
 
G_M000_IG35:                ;; offset=0x04D4
       mov      esi, r12d
       and      r12d, -2
       test     r10b, 2
       cmove    esi, r12d
       mov      edx, esi
       and      edx, -3
       test     r10b, 4
       cmove    esi, edx
       mov      rdx, 0x8000000000000000
       mov      r8d, esi
       or       r8d, 4
       test     r10, rdx
       cmovne   esi, r8d
       mov      r12d, esi
       mov      rdx, 0xFFFFFFFFFF000
       and      rdx, r10
       mov      qword ptr [rbp-0x68], rdx
       mov      rdi, bword ptr [rbp-0xD8]
       mov      rsi, gword ptr [rdi]
       cmp      rdx, qword ptr [rsi+0x38]
       jae      SHORT G_M000_IG34
 
G_M000_IG36:                ;; offset=0x052B
       mov      r8, gword ptr [rdi]
       mov      rsi, qword ptr [r8+0x08]
       mov      r9, rdx
       shr      r9, 27
       mov      r9, qword ptr [rsi+8*r9]
       test     r9, r9
       jne      SHORT G_M000_IG38
 
G_M000_IG37:                ;; offset=0x0542
       mov      rsi, rdx
       shr      rsi, 27
       mov      rdi, r8
       call     [FastPt.Hardware.PhysicalMemory:CreateArena(ulong):nint:this]
       mov      r9, rax
       mov      rdx, qword ptr [rbp-0x68]
 
G_M000_IG38:                ;; offset=0x0559
       mov      rsi, rdx
       and      rsi, 0x7FFFFFF
       add      rsi, r9
       mov      r9, rbx
       shr      r9, 12
       and      r9d, 511
       movsxd   r9, r9d
       lea      r11, [rsi+8*r9]
       mov      qword ptr [rbp-0x48], r11
       mov      r8, qword ptr [r11]
       mov      qword ptr [rbp-0x50], r8
       mov      r10, qword ptr [rbp-0x60]
       cmp      qword ptr [r13], r10
       jne      G_M000_IG34
 
G_M000_IG39:                ;; offset=0x0594
       mov      r9, r14
       mov      rsi, gword ptr [r9+0x08]
       mov      rdi, r9
       mov      r9d, r12d
       mov      rcx, rbx
       mov      r8, rdx
       mov      edx, 21
       call     [FastPt.Hardware.SoftTlb:Cache(FastPt.Hardware.PscEntry[],int,ulong,ulong,int):this]
       mov      rax, qword ptr [rbp-0x50]
       jmp      G_M000_IG12
 
G_M000_IG40:                ;; offset=0x05BB
       test     sil, 1
       je       G_M000_IG63
       jmp      G_M000_IG14
 
G_M000_IG41:                ;; offset=0x05CA
       test     sil, 4
       jne      G_M000_IG63
       jmp      G_M000_IG15
 
G_M000_IG42:                ;; offset=0x05D9
       mov      dword ptr [rbp-0x74], esi
       mov      r9d, esi
       and      r9d, 1
       mov      esi, dword ptr [rbp-0x74]
       jmp      G_M000_IG17
 
G_M000_IG43:                ;; offset=0x05EB
       mov      dword ptr [rbp-0x74], esi
       mov      rsi, r8
       shr      rsi, 27
       mov      rdi, r10
       call     [FastPt.Hardware.PhysicalMemory:CreateArena(ulong):nint:this]
       mov      esi, dword ptr [rbp-0x74]
       mov      r8, qword ptr [rbp-0x70]
       jmp      G_M000_IG18
 
G_M000_IG44:                ;; offset=0x060A
       mov      r10, gword ptr [rdi]
       mov      gword ptr [rbp-0xE0], r10
       mov      r11, qword ptr [r10+0x08]
       mov      rax, r8
       shr      rax, 27
       mov      rax, qword ptr [r11+8*rax]
       test     rax, rax
       mov      dword ptr [rbp-0x74], esi
       jne      SHORT G_M000_IG45
       mov      rsi, r8
       shr      rsi, 27
       mov      rdi, r10
       call     [FastPt.Hardware.PhysicalMemory:CreateArena(ulong):nint:this]
       mov      r8, qword ptr [rbp-0x70]
       mov      r10, gword ptr [rbp-0xE0]
 
G_M000_IG45:                ;; offset=0x0646
       mov      r11, r8
       and      r11, 0x7FFFFFF
       mov      qword ptr [rbp-0x90], r11
       mov      rsi, r11
       shr      rsi, 12
       mov      r11, rsi
       shr      r11, 6
       mov      qword ptr [rbp-0x88], rax
       lea      r11, [rax+8*r11+0x08000000]
       mov      eax, 1
       shlx     rax, rax, rsi
       test     qword ptr [r11], rax
       jne      SHORT G_M000_IG46
       mov      rdi, r10
       mov      rsi, r8
       mov      rdx, r11
       mov      rcx, rax
       call     [FastPt.Hardware.PhysicalMemory:MarkFrame(ulong,ptr,ulong):this]
       mov      r8, qword ptr [rbp-0x70]
 
G_M000_IG46:                ;; offset=0x0699
       mov      rax, qword ptr [rbp-0x88]
       add      rax, qword ptr [rbp-0x90]
       mov      qword ptr [rbp-0x80], rax
       mov      esi, dword ptr [rbp-0x74]
       jmp      G_M000_IG19
 
G_M000_IG47:                ;; offset=0x06B3
       mov      dword ptr [rbp-0x74], esi
       lea      esi, [r11+0x01]
       mov      dword ptr [rbp-0x98], esi
       mov      rsi, qword ptr [r10+0x30]
       mov      qword ptr [rbp-0xC0], rsi
       movsxd   rsi, r11d
       mov      r9, rsi
       shl      r9, 4
       mov      rdx, r9
       add      rdx, qword ptr [rbp-0xC0]
       mov      qword ptr [rbp-0xA8], rdx
       mov      rdx, qword ptr [rdx]
       and      rdx, -0x1000
       cmp      rdx, r15
       je       G_M000_IG53
       mov      qword ptr [rbp-0x80], rax
       mov      rdx, qword ptr [r10+0x20]
       mov      qword ptr [rbp-0xB8], rdx
       mov      rdx, rsi
       shl      rdx, 5
       add      rdx, qword ptr [rbp-0xB8]
       mov      qword ptr [rbp-0xB0], rdx
       mov      bword ptr [rbp-0xE8], rdx
       mov      rdx, qword ptr [rdx]
       and      rdx, 0xFF8
       mov      qword ptr [rbp-0xA0], rdx
       mov      rdx, bword ptr [rbp-0xE8]
       mov      edx, dword ptr [rdx]
       mov      rax, bword ptr [rbp-0xE8]
       and      edx, dword ptr [rax+0x08]
       and      edx, dword ptr [rax+0x10]
       test     dl, 1
       jne      SHORT G_M000_IG49
 
G_M000_IG48:                ;; offset=0x0750
       mov      rdx, qword ptr [rbp-0xA8]
       test     byte  ptr [rdx], 32
       jne      SHORT G_M000_IG50
       mov      rax, qword ptr [r10+0x50]
       jmp      SHORT G_M000_IG51
 
G_M000_IG49:                ;; offset=0x0762
       mov      rax, qword ptr [rbp-0x80]
       jmp      SHORT G_M000_IG53
 
G_M000_IG50:                ;; offset=0x0768
       mov      rax, qword ptr [r10+0x58]
 
G_M000_IG51:                ;; offset=0x076C
       mov      rdx, qword ptr [rbp-0xA0]
       cmp      rdx, rax
       je       SHORT G_M000_IG54
 
G_M000_IG52:                ;; offset=0x0778
       mov      rax, qword ptr [rbp-0x80]
 
G_M000_IG53:                ;; offset=0x077C
       movsxd   rdx, dword ptr [rbp-0x98]
       mov      rsi, rdx
       shl      rsi, 4
       mov      r9, qword ptr [rbp-0xC0]
       add      rsi, r9
       mov      rsi, qword ptr [rsi]
       and      rsi, -0x1000
       cmp      rsi, r15
       je       SHORT G_M000_IG55
       mov      esi, dword ptr [rbp-0x74]
       mov      r11d, dword ptr [rbp-0x94]
       jmp      G_M000_IG20
 
G_M000_IG54:                ;; offset=0x07B2
       movsxd   rax, dword ptr [rbp-0x98]
       mov      qword ptr [rbp-0xD0], rax
       mov      rdx, rax
       shl      rdx, 5
       mov      rax, qword ptr [rbp-0xB8]
       mov      r11, qword ptr [rbp-0xB0]
       vmovdqu  ymm0, ymmword ptr [r11]
       vmovdqu  ymmword ptr [rax+rdx], ymm0
       mov      rax, qword ptr [r10+0x28]
       mov      rsi, qword ptr [rax+8*rsi]
       mov      rdx, qword ptr [rbp-0xD0]
       mov      qword ptr [rax+8*rdx], rsi
       mov      r10, qword ptr [r10+0x30]
       shl      rdx, 4
       vmovups  xmm0, xmmword ptr [r10+r9]
       vmovups  xmmword ptr [r10+rdx], xmm0
       mov      rax, qword ptr [rbp-0x80]
       mov      esi, dword ptr [rbp-0x74]
       mov      r11d, dword ptr [rbp-0x94]
       jmp      G_M000_IG20
 
G_M000_IG55:                ;; offset=0x0819
       mov      qword ptr [rbp-0x80], rax
       mov      rsi, qword ptr [r10+0x20]
       mov      r10, rdx
       shl      r10, 5
       lea      rdi, [rsi+r10]
       mov      rsi, rdx
       shl      rsi, 4
       add      rsi, r9
       call     [FastPt.Hardware.SoftTlb:Invalidate(byref,byref)]
       mov      rax, qword ptr [rbp-0x80]
       mov      esi, dword ptr [rbp-0x74]
       mov      r8, qword ptr [rbp-0x70]
       mov      r11d, dword ptr [rbp-0x94]
       jmp      G_M000_IG20
 
G_M000_IG56:                ;; offset=0x0853
       mov      qword ptr [rbp-0x80], rax
       mov      rax, r13
       or       rax, 2
       cmp      dword ptr [rbp-0x78], 0
       mov      r9, rax
       cmovne   r9, r13
       jmp      G_M000_IG22
 
G_M000_IG57:                ;; offset=0x086E
       xor      edx, edx
       jmp      G_M000_IG23
 
G_M000_IG58:                ;; offset=0x0875
       call     CORINFO_HELP_RNGCHKFAIL
       int3     
 
G_M000_IG59:                ;; offset=0x087B
       mov      rdi, bword ptr [rbp-0xD8]
       mov      rsi, gword ptr [rdi+0x40]
       inc      qword ptr [rsi+0x20]
       mov      rdi, bword ptr [rbp-0xD8]
       jmp      G_M000_IG25
 
G_M000_IG60:                ;; offset=0x0896
       call     G_M000_IG65
       nop      
 
G_M000_IG61:                ;; offset=0x089C
       mov      rax, qword ptr [rbp-0x40]
 
G_M000_IG62:                ;; offset=0x08A0
       vzeroupper 
       add      rsp, 200
       pop      rbx
       pop      r12
       pop      r13
       pop      r14
       pop      r15
       pop      rbp
       ret      
 
G_M000_IG63:                ;; offset=0x08B5
       mov      rdi, bword ptr [rbp-0xD8]
       mov      rcx, gword ptr [rdi+0x10]
       xor      esi, esi
       mov      dword ptr [rcx+0x18], esi
       lea      rcx, [rbp-0x30]
       mov      rsi, rbx
       mov      edx, r15d
       call     [FastPt.Hardware.Cpu`1[FastPt.Mm.FrameMap]:TranslateGeneral(ulong,int,byref):bool:this]
       mov      rcx, -1
       test     eax, eax
       mov      rax, rcx
       cmovne   rax, qword ptr [rbp-0x30]
 
G_M000_IG64:                ;; offset=0x08E9
       vzeroupper 
       add      rsp, 200
       pop      rbx
       pop      r12
       pop      r13
       pop      r14
       pop      r15
       pop      rbp
       ret      
 
G_M000_IG65:                ;; offset=0x08FE
       push     rax
 
G_M000_IG66:                ;; offset=0x08FF
       mov      rdi, bword ptr [rbp-0xD8]
       mov      rax, gword ptr [rdi+0x10]
       xor      edi, edi
       mov      dword ptr [rax+0x18], edi
 
G_M000_IG67:                ;; offset=0x090F
       vzeroupper 
       add      rsp, 8
       ret      
 
; Total bytes of code 2327

