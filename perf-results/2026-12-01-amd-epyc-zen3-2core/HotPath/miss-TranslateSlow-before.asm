; Assembly listing for method FastPt.Hardware.Cpu`1[FastPt.Mm.FrameMap]:TranslateSlow(ulong,int,byref):bool:this (Tier1)
; Emitting BLENDED_CODE for generic X64 + VEX on Unix
; Tier1 code
; optimized code
; optimized using Synthesized PGO
; rbp based frame
; fully interruptible
; with Synthesized PGO: fgCalledCount is 475776
; 18 inlinees with PGO data; 31 single block inlinees; 0 inlinees without PGO data

G_M000_IG01:                ;; offset=0x0000
       push     rbp
       push     r15
       push     r14
       push     r13
       push     r12
       push     rbx
       sub      rsp, 280
       lea      rbp, [rsp+0x140]
       mov      bword ptr [rbp-0x108], rdi
       mov      qword ptr [rbp-0x30], rsi
       mov      dword ptr [rbp-0x34], edx
       mov      bword ptr [rbp-0x110], rcx
 
G_M000_IG02:                ;; offset=0x002E
       mov      rax, gword ptr [rdi+0x18]
       mov      dword ptr [rax+0x18], 1
 
G_M000_IG03:                ;; offset=0x0039
       mov      rax, qword ptr [rdi+0x68]
       mov      rcx, gword ptr [rdi+0x38]
       cmp      rax, qword ptr [rcx+0x28]
       jne      G_M000_IG07
 
G_M000_IG04:                ;; offset=0x004B
       cmp      byte  ptr [rdi+0x80], 0
       jne      G_M000_IG07
       mov      rax, gword ptr [rdi+0x10]
       mov      rcx, rax
       mov      r8, rsi
       and      r8, -0x1000
       or       r8, qword ptr [rax+0x58]
       mov      r9, rsi
       and      r9, -0x1000
       shr      r9, 11
       and      r9d, dword ptr [rcx+0x20]
       lea      r10d, [r9+0x01]
       movsxd   r11, r10d
       shl      r11, 5
       add      r11, qword ptr [rcx+0x28]
       cmp      byte  ptr [r11], r11b
       movsxd   rbx, edx
       cmp      qword ptr [r11+8*rbx], r8
       je       G_M000_IG28
 
G_M000_IG05:                ;; offset=0x009E
       cmp      rsi, qword ptr [rdi+0x60]
       ja       SHORT G_M000_IG07
       mov      rcx, rax
       mov      r8, gword ptr [rcx+0x10]
       mov      r9, rsi
       shr      r9, 21
       mov      ecx, dword ptr [rcx+0x90]
       mov      r10d, r9d
       and      r10d, ecx
       cmp      r10d, dword ptr [r8+0x08]
       jae      G_M000_IG54
       lea      r10, [r10+2*r10]
       lea      r8, bword ptr [r8+8*r10+0x10]
       inc      r9
       cmp      qword ptr [r8], r9
       je       G_M000_IG09
 
G_M000_IG06:                ;; offset=0x00DD
       mov      r8, gword ptr [rax+0x18]
       mov      rax, rsi
       shr      rax, 30
       mov      r9d, eax
       and      ecx, r9d
       cmp      ecx, dword ptr [r8+0x08]
       jae      G_M000_IG54
       lea      rcx, [rcx+2*rcx]
       lea      rcx, bword ptr [r8+8*rcx+0x10]
       inc      rax
       cmp      qword ptr [rcx], rax
       je       SHORT G_M000_IG08
 
G_M000_IG07:                ;; offset=0x0109
       mov      rdi, bword ptr [rbp-0x108]
       mov      rsi, qword ptr [rbp-0x30]
       mov      edx, dword ptr [rbp-0x34]
       lea      r8, [rbp-0x48]
       lea      rcx, [rbp-0x68]
       call     [FastPt.Hardware.Cpu`1[FastPt.Mm.FrameMap]:Lookup(ulong,int,byref,byref):bool:this]
       test     eax, eax
       je       G_M000_IG59
       mov      rsi, qword ptr [rbp-0x30]
       mov      rax, rsi
       and      rax, 0xFFF
       or       rax, qword ptr [rbp-0x68]
       mov      r9, bword ptr [rbp-0x110]
       mov      qword ptr [r9], rax
       jmp      G_M000_IG57
 
G_M000_IG08:                ;; offset=0x014D
       mov      rbx, qword ptr [rcx+0x08]
       mov      r15d, dword ptr [rcx+0x10]
       mov      r14d, 2
       jmp      SHORT G_M000_IG10
 
G_M000_IG09:                ;; offset=0x015D
       mov      rbx, qword ptr [r8+0x08]
       mov      r15d, dword ptr [r8+0x10]
       mov      r14d, 1
 
G_M000_IG10:                ;; offset=0x016B
       mov      r13d, r14d
       mov      rax, gword ptr [rdi]
       lea      ecx, [r13-0x01]
       lea      ecx, [rcx+8*rcx]
       add      ecx, 12
       shrx     rcx, rsi, rcx
       and      ecx, 511
       shl      ecx, 3
       movsxd   r12, ecx
       add      r12, rbx
       mov      rcx, qword ptr [rax+0x08]
       mov      r8, r12
       shr      r8, 27
       mov      rbx, qword ptr [rcx+8*r8]
       test     rbx, rbx
       je       G_M000_IG29
 
G_M000_IG11:                ;; offset=0x01A7
       and      r12, 0x7FFFFFF
       add      rbx, r12
       mov      r12, qword ptr [rbx]
       cmp      r13d, 2
       je       G_M000_IG30
 
G_M000_IG12:                ;; offset=0x01BE
       mov      eax, 64
       xor      ecx, ecx
       mov      edx, dword ptr [rbp-0x34]
       cmp      edx, 1
       cmovne   rax, rcx
       or       rax, 33
       mov      rcx, r12
       and      rcx, rax
       cmp      rcx, rax
       jne      G_M000_IG07
 
G_M000_IG13:                ;; offset=0x01E2
       mov      eax, r15d
       mov      ecx, r15d
       and      ecx, -2
       test     r12b, 2
       cmove    eax, ecx
       mov      ecx, eax
       and      ecx, -3
       test     r12b, 4
       cmove    eax, ecx
       mov      rcx, 0x8000000000000000
       mov      r8d, eax
       or       r8d, 4
       test     r12, rcx
       cmovne   eax, r8d
       test     al, 2
       je       G_M000_IG07
       cmp      edx, 1
       je       G_M000_IG34
 
G_M000_IG14:                ;; offset=0x0227
       cmp      edx, 2
       je       G_M000_IG35
 
G_M000_IG15:                ;; offset=0x0230
       lea      ecx, [r14-0x01]
       lea      ecx, [rcx+8*rcx]
       add      ecx, 12
       mov      r8d, 1
       shlx     r15, r8, rcx
       lea      rcx, [r15-0x01]
       mov      r8, rcx
       and      r8, qword ptr [rbp-0x30]
       not      rcx
       mov      qword ptr [rbp-0xF8], rcx
       mov      r9, rcx
       and      r9, r12
       mov      r10, 0xFFFFFFFFFF000
       and      r9, r10
       or       r8, r9
       mov      qword ptr [rbp-0x90], r8
       mov      rdi, bword ptr [rbp-0x108]
       mov      r9, gword ptr [rdi]
       cmp      r8, qword ptr [r9+0x38]
       mov      dword ptr [rbp-0x9C], eax
       jae      G_M000_IG07
       mov      r9, gword ptr [rdi+0x88]
       mov      rsi, r8
       shr      rsi, 12
       mov      rdi, r9
       cmp      dword ptr [rdi], edi
       call     [FastPt.Mm.SparseMemory:PfnPresent(ulong):bool:this]
       test     eax, eax
       je       G_M000_IG07
       cmp      r13d, 1
       jne      G_M000_IG36
 
G_M000_IG16:                ;; offset=0x02BC
       mov      rdi, bword ptr [rbp-0x108]
       mov      rsi, gword ptr [rdi+0x48]
       inc      qword ptr [rsi+0x18]
 
G_M000_IG17:                ;; offset=0x02CB
       mov      rsi, gword ptr [rdi+0x48]
       inc      qword ptr [rsi+0x10]
       mov      r13, qword ptr [rbp-0x90]
       mov      rax, r13
       and      rax, -0x1000
       mov      qword ptr [rbp-0x70], rax
       mov      dword ptr [rbp-0x74], r14d
       cmp      r14d, 1
       jg       G_M000_IG37
 
G_M000_IG18:                ;; offset=0x02F5
       mov      r14d, dword ptr [rbp-0x74]
       mov      rsi, qword ptr [rbp-0x30]
       mov      r13, rsi
       and      r13, -0x1000
       mov      rcx, gword ptr [rdi+0x10]
       mov      rdx, r13
       or       rdx, qword ptr [rcx+0x58]
       mov      ecx, 4
       xor      r8d, r8d
       cmp      byte  ptr [rdi+0x80], 0
       cmove    rcx, r8
       or       rcx, rdx
       mov      qword ptr [rbp-0xA8], rcx
       mov      qword ptr [rbp-0x88], r12
       test     r12b, 64
       jne      G_M000_IG39
 
G_M000_IG19:                ;; offset=0x0340
       mov      r12, qword ptr [rbp-0x88]
       xor      edx, edx
 
G_M000_IG20:                ;; offset=0x0349
       movzx    rdx, dl
       mov      dword ptr [rbp-0xAC], edx
       test     edx, edx
       jne      G_M000_IG41
       mov      r9, gword ptr [rdi]
       mov      r10, qword ptr [r9+0x08]
       mov      r11, rax
       shr      r11, 27
       mov      r10, qword ptr [r10+8*r11]
       test     r10, r10
       je       G_M000_IG40
 
G_M000_IG21:                ;; offset=0x0375
       mov      rax, qword ptr [rbp-0x70]
       mov      r9, rax
       and      r9, 0x7FFFFFF
       add      r9, r10
       mov      qword ptr [rbp-0x80], rbx
 
G_M000_IG22:                ;; offset=0x038A
       mov      rdi, bword ptr [rbp-0x108]
       mov      r10, gword ptr [rdi+0x10]
       mov      gword ptr [rbp-0x120], r10
       mov      rsi, qword ptr [rbp-0x30]
       mov      r11, rsi
       and      r11, qword ptr [rbp-0xF8]
       mov      qword ptr [rbp-0xE8], r11
       mov      rbx, r13
       shr      rbx, 11
       and      ebx, dword ptr [r10+0x20]
       cmp      byte  ptr [r10+0x94], 0
       jne      G_M000_IG44
 
G_M000_IG23:                ;; offset=0x03CA
       cmp      r15, 0x1000
       ja       G_M000_IG50
 
G_M000_IG24:                ;; offset=0x03D7
       mov      rdi, bword ptr [rbp-0x108]
       mov      r15, gword ptr [rdi+0x10]
       mov      rcx, qword ptr [rbp-0xA8]
       mov      qword ptr [rbp-0xC0], rcx
       mov      r8d, dword ptr [rbp-0x9C]
       test     r8b, 1
       jne      G_M000_IG52
 
G_M000_IG25:                ;; offset=0x0401
       mov      r11, rcx
       or       r11, 1
       mov      qword ptr [rbp-0xB8], r9
       mov      qword ptr [rbp-0xC8], r11
 
G_M000_IG26:                ;; offset=0x0416
       test     r8b, 4
       sete     dl
       movzx    rdx, dl
       mov      r8, rcx
       or       r8, 1
       test     edx, edx
       cmove    rcx, r8
       mov      qword ptr [rbp-0xD0], rcx
       mov      rdi, r12
       call     [FastPt.Hardware.PageTableEntry:ProtectionOf(ulong):int]
       mov      edx, eax
       mov      esi, r14d
       mov      rdi, r13
       xor      ecx, ecx
       call     [FastPt.Hardware.TlbDetail:Pack(ulong,int,int,bool):ulong]
       movsxd   r12, ebx
       mov      rdi, r12
       shl      rdi, 5
       add      rdi, qword ptr [r15+0x28]
       mov      r14, qword ptr [rbp-0xC0]
       mov      qword ptr [rdi], r14
       mov      rbx, qword ptr [rbp-0xC8]
       mov      qword ptr [rdi+0x08], rbx
       mov      rbx, qword ptr [rbp-0xD0]
       mov      qword ptr [rdi+0x10], rbx
       mov      rbx, qword ptr [rbp-0xB8]
       sub      rbx, r13
       mov      qword ptr [rdi+0x18], rbx
       mov      rdi, qword ptr [r15+0x30]
       mov      rbx, qword ptr [rbp-0x70]
       mov      qword ptr [rdi+8*r12], rbx
       shl      r12, 4
       add      r12, qword ptr [r15+0x38]
       mov      qword ptr [r12], rax
       mov      r15, qword ptr [rbp-0x80]
       mov      qword ptr [r12+0x08], r15
 
G_M000_IG27:                ;; offset=0x04AA
       mov      rsi, qword ptr [rbp-0x30]
       mov      rdi, rsi
       and      rdi, 0xFFF
       or       rdi, qword ptr [rbp-0x70]
       mov      r9, bword ptr [rbp-0x110]
       mov      qword ptr [r9], rdi
       jmp      G_M000_IG57
 
G_M000_IG28:                ;; offset=0x04CB
       mov      rdi, rcx
       mov      esi, r9d
       mov      edx, r10d
       call     [FastPt.Hardware.SoftTlb:Swap(int,int):this]
       mov      rdi, bword ptr [rbp-0x108]
       mov      r8, gword ptr [rdi+0x48]
       inc      qword ptr [r8+0x08]
       mov      r8, gword ptr [rdi+0x10]
       mov      rcx, qword ptr [r8+0x30]
       mov      rsi, qword ptr [rbp-0x30]
       mov      rdx, rsi
       shr      rdx, 11
       and      edx, dword ptr [r8+0x20]
       movsxd   r8, edx
       mov      rdx, rsi
       and      rdx, 0xFFF
       or       rdx, qword ptr [rcx+8*r8]
       mov      r9, bword ptr [rbp-0x110]
       mov      qword ptr [r9], rdx
       jmp      G_M000_IG57
 
G_M000_IG29:                ;; offset=0x0520
       mov      rsi, r12
       shr      rsi, 27
       mov      rdi, rax
       call     [FastPt.Hardware.PhysicalMemory:CreateArena(ulong):nint:this]
       mov      rbx, rax
       jmp      G_M000_IG11
 
G_M000_IG30:                ;; offset=0x0538
       mov      eax, r12d
       and      eax, 161
       cmp      eax, 33
       jne      G_M000_IG33
       mov      eax, r15d
       and      r15d, -2
       test     r12b, 2
       cmove    eax, r15d
       mov      ecx, eax
       and      ecx, -3
       test     r12b, 4
       cmove    eax, ecx
       mov      rcx, 0x8000000000000000
       mov      r8d, eax
       or       r8d, 4
       test     r12, rcx
       cmovne   eax, r8d
       mov      r15d, eax
       mov      rax, 0xFFFFFFFFFF000
       and      rax, r12
       mov      r14, rax
       mov      rdi, bword ptr [rbp-0x108]
       mov      rax, gword ptr [rdi]
       cmp      r14, qword ptr [rax+0x38]
       jae      G_M000_IG07
       mov      dword ptr [rbp-0x74], 1
       mov      rcx, gword ptr [rdi]
       mov      rsi, qword ptr [rbp-0x30]
       mov      r8, rsi
       shr      r8, 12
       and      r8d, 511
       shl      r8d, 3
       movsxd   r8, r8d
       add      r8, r14
       mov      qword ptr [rbp-0x98], r8
       mov      r9, qword ptr [rcx+0x08]
       mov      r10, r8
       shr      r10, 27
       mov      r9, qword ptr [r9+8*r10]
       test     r9, r9
       jne      SHORT G_M000_IG32
 
G_M000_IG31:                ;; offset=0x05E4
       mov      rsi, r10
       mov      rdi, rcx
       call     [FastPt.Hardware.PhysicalMemory:CreateArena(ulong):nint:this]
       mov      r9, rax
 
G_M000_IG32:                ;; offset=0x05F3
       mov      r8, qword ptr [rbp-0x98]
       and      r8, 0x7FFFFFF
       add      r8, r9
       mov      r10, r8
       mov      qword ptr [rbp-0x80], r10
       mov      r9, qword ptr [r10]
       mov      qword ptr [rbp-0x88], r9
       cmp      qword ptr [rbx], r12
       jne      G_M000_IG07
       mov      rdi, bword ptr [rbp-0x108]
       mov      r9, gword ptr [rdi+0x10]
       mov      rsi, gword ptr [r9+0x10]
       mov      rdi, r9
       mov      r9d, r15d
       mov      rcx, qword ptr [rbp-0x30]
       mov      r8, r14
       mov      edx, 21
       call     [FastPt.Hardware.SoftTlb:Cache(FastPt.Hardware.PscEntry[],int,ulong,ulong,int):this]
       mov      rbx, qword ptr [rbp-0x80]
       mov      r12, qword ptr [rbp-0x88]
       mov      r14d, dword ptr [rbp-0x74]
       jmp      G_M000_IG12
 
G_M000_IG33:                ;; offset=0x0659
       test     r12b, 128
       je       G_M000_IG07
       jmp      G_M000_IG12
 
G_M000_IG34:                ;; offset=0x0668
       test     al, 1
       je       G_M000_IG07
       jmp      G_M000_IG14
 
G_M000_IG35:                ;; offset=0x0675
       mov      dword ptr [rbp-0x9C], eax
       test     al, 4
       mov      eax, dword ptr [rbp-0x9C]
       jne      G_M000_IG07
       jmp      G_M000_IG15
 
G_M000_IG36:                ;; offset=0x068E
       mov      rdi, bword ptr [rbp-0x108]
       mov      rsi, gword ptr [rdi+0x48]
       inc      qword ptr [rsi+0x20]
       jmp      G_M000_IG17
 
G_M000_IG37:                ;; offset=0x06A2
       mov      r14d, dword ptr [rbp-0x74]
       xor      esi, esi
       mov      dword ptr [rsp], esi
 
G_M000_IG38:                ;; offset=0x06AB
       mov      dword ptr [rsp+0x08], esi
       mov      qword ptr [rsp+0x10], rbx
       mov      rsi, qword ptr [rbp-0x30]
       mov      rdx, r13
       mov      rcx, r12
       mov      r8d, r14d
       mov      r9d, dword ptr [rbp-0x9C]
       call     [FastPt.Hardware.Cpu`1[FastPt.Mm.FrameMap]:FillHuge(ulong,ulong,ulong,int,int,bool,bool,ptr):int:this]
       jmp      G_M000_IG27
 
G_M000_IG39:                ;; offset=0x06D3
       mov      r12, qword ptr [rbp-0x88]
       mov      r8d, dword ptr [rbp-0x9C]
       mov      edx, r8d
       and      edx, 1
       jmp      G_M000_IG20
 
G_M000_IG40:                ;; offset=0x06EC
       mov      rsi, r11
       mov      rdi, r9
       call     [FastPt.Hardware.PhysicalMemory:CreateArena(ulong):nint:this]
       mov      r10, rax
       jmp      G_M000_IG21
 
G_M000_IG41:                ;; offset=0x0700
       mov      r9, gword ptr [rdi]
       mov      gword ptr [rbp-0x118], r9
       mov      r10, qword ptr [r9+0x08]
       mov      r11, rax
       shr      r11, 27
       mov      r10, qword ptr [r10+8*r11]
       test     r10, r10
       jne      G_M000_IG47
       mov      rsi, r11
       mov      rdi, r9
       call     [FastPt.Hardware.PhysicalMemory:CreateArena(ulong):nint:this]
       mov      r9, rax
       mov      qword ptr [rbp-0x88], r12
       mov      dword ptr [rbp-0x74], r14d
       mov      qword ptr [rbp-0x80], rbx
       mov      r10, r9
       mov      r9, gword ptr [rbp-0x118]
 
G_M000_IG42:                ;; offset=0x074A
       mov      rax, qword ptr [rbp-0x70]
       mov      r11, rax
       and      r11, 0x7FFFFFF
       mov      qword ptr [rbp-0xE0], r11
       mov      rbx, r11
       shr      rbx, 12
       mov      r14, rbx
       shr      r14, 6
       mov      qword ptr [rbp-0xD8], r10
       lea      r14, [r10+8*r14+0x08000000]
       mov      r12d, 1
       shlx     rbx, r12, rbx
       test     qword ptr [r14], rbx
       jne      SHORT G_M000_IG43
       mov      rdi, r9
       mov      rsi, rax
       mov      rdx, r14
       mov      rcx, rbx
       call     [FastPt.Hardware.PhysicalMemory:MarkFrame(ulong,ptr,ulong):this]
       mov      rax, qword ptr [rbp-0x70]
 
G_M000_IG43:                ;; offset=0x07A2
       mov      r10, qword ptr [rbp-0xD8]
       mov      r9, r10
       add      r9, qword ptr [rbp-0xE0]
       mov      qword ptr [rbp-0xB8], r9
       mov      r12, qword ptr [rbp-0x88]
       mov      r14d, dword ptr [rbp-0x74]
       jmp      G_M000_IG22
 
G_M000_IG44:                ;; offset=0x07CA
       mov      qword ptr [rbp-0x88], r12
       mov      dword ptr [rbp-0x74], r14d
       lea      r14d, [rbx+0x01]
       mov      dword ptr [rbp-0xEC], r14d
       movsxd   r12, ebx
       mov      r8, r12
       shl      r8, 4
       mov      qword ptr [rbp-0x100], r8
       mov      r14, r8
       add      r14, qword ptr [r10+0x38]
       mov      r14, qword ptr [r14]
       and      r14, -0x1000
       cmp      r14, r13
       je       G_M000_IG48
       mov      qword ptr [rbp-0xB8], r9
       mov      rdi, r10
       mov      esi, ebx
       call     [FastPt.Hardware.SoftTlb:IsCurrent(int):bool:this]
       test     eax, eax
       je       SHORT G_M000_IG46
 
G_M000_IG45:                ;; offset=0x0821
       mov      r14, gword ptr [rbp-0x120]
       mov      rdi, qword ptr [r14+0x28]
       movsxd   rsi, dword ptr [rbp-0xEC]
       mov      rax, rsi
       shl      rax, 5
       mov      rcx, r12
       shl      rcx, 5
       vmovdqu  ymm0, ymmword ptr [rdi+rcx]
       vmovdqu  ymmword ptr [rdi+rax], ymm0
       mov      rdi, qword ptr [r14+0x30]
       mov      rax, qword ptr [rdi+8*r12]
       mov      qword ptr [rdi+8*rsi], rax
       mov      rdi, qword ptr [r14+0x38]
       shl      rsi, 4
       mov      r12, qword ptr [rbp-0x100]
       vmovups  xmm0, xmmword ptr [rdi+r12]
       vmovups  xmmword ptr [rdi+rsi], xmm0
       mov      r10, r14
       mov      rax, qword ptr [rbp-0x70]
       mov      r9, qword ptr [rbp-0xB8]
       mov      r12, qword ptr [rbp-0x88]
       mov      r14d, dword ptr [rbp-0x74]
       jmp      G_M000_IG23
 
G_M000_IG46:                ;; offset=0x088F
       mov      rax, qword ptr [rbp-0x70]
       mov      r9, qword ptr [rbp-0xB8]
       mov      r10, gword ptr [rbp-0x120]
       jmp      SHORT G_M000_IG48
 
G_M000_IG47:                ;; offset=0x08A3
       mov      qword ptr [rbp-0x88], r12
       mov      dword ptr [rbp-0x74], r14d
       mov      qword ptr [rbp-0x80], rbx
       jmp      G_M000_IG42
 
G_M000_IG48:                ;; offset=0x08B7
       movsxd   r8, dword ptr [rbp-0xEC]
       mov      r12, r8
       shl      r12, 4
       add      r12, qword ptr [r10+0x38]
       mov      r14, qword ptr [r12]
       and      r14, -0x1000
       cmp      r14, r13
       jne      G_M000_IG53
 
G_M000_IG49:                ;; offset=0x08DD
       mov      qword ptr [rbp-0xB8], r9
       mov      r14, r8
       shl      r14, 5
       add      r14, qword ptr [r10+0x28]
       mov      rdi, r14
       shl      r8, 4
       add      r8, qword ptr [r10+0x38]
       mov      rsi, r8
       call     [FastPt.Hardware.SoftTlb:Invalidate(byref,byref)]
       mov      rax, qword ptr [rbp-0x70]
       mov      r9, qword ptr [rbp-0xB8]
       mov      r10, gword ptr [rbp-0x120]
       mov      r12, qword ptr [rbp-0x88]
       mov      r14d, dword ptr [rbp-0x74]
       jmp      G_M000_IG23
 
G_M000_IG50:                ;; offset=0x0925
       mov      r11, qword ptr [rbp-0xE8]
       cmp      r11, qword ptr [r10+0x70]
       jae      SHORT G_M000_IG56
       mov      qword ptr [r10+0x70], r11
       mov      qword ptr [rbp-0xB8], r9
 
G_M000_IG51:                ;; offset=0x093D
       lea      r9, [r11+r15-0x01]
       cmp      r9, qword ptr [r10+0x78]
       jbe      SHORT G_M000_IG55
       add      r11, r15
       dec      r11
       mov      qword ptr [r10+0x78], r11
       mov      r9, qword ptr [rbp-0xB8]
       jmp      G_M000_IG24
 
G_M000_IG52:                ;; offset=0x095E
       mov      r11, rcx
       or       r11, 2
       cmp      dword ptr [rbp-0xAC], 0
       cmovne   r11, rcx
       mov      qword ptr [rbp-0xC8], r11
       mov      qword ptr [rbp-0xB8], r9
       jmp      G_M000_IG26
 
G_M000_IG53:                ;; offset=0x0983
       mov      r12, qword ptr [rbp-0x88]
       mov      r14d, dword ptr [rbp-0x74]
       jmp      G_M000_IG23
 
G_M000_IG54:                ;; offset=0x0993
       call     CORINFO_HELP_RNGCHKFAIL
       int3     
 
G_M000_IG55:                ;; offset=0x0999
       mov      r9, qword ptr [rbp-0xB8]
       jmp      G_M000_IG24
 
G_M000_IG56:                ;; offset=0x09A5
       mov      qword ptr [rbp-0xB8], r9
       jmp      SHORT G_M000_IG51
 
G_M000_IG57:                ;; offset=0x09AE
       mov      rdi, bword ptr [rbp-0x108]
       mov      rax, gword ptr [rdi+0x18]
       xor      edi, edi
       mov      dword ptr [rax+0x18], edi
       mov      eax, 1
 
G_M000_IG58:                ;; offset=0x09C3
       vzeroupper 
       add      rsp, 280
       pop      rbx
       pop      r12
       pop      r13
       pop      r14
       pop      r15
       pop      rbp
       ret      
 
G_M000_IG59:                ;; offset=0x09D8
       call     G_M000_IG62
       nop      
 
G_M000_IG60:                ;; offset=0x09DE
       mov      rcx, qword ptr [rbp-0x48]
       mov      r8, qword ptr [rbp-0x40]
       mov      rdi, bword ptr [rbp-0x108]
       mov      rsi, qword ptr [rbp-0x30]
       mov      edx, dword ptr [rbp-0x34]
       mov      r9, bword ptr [rbp-0x110]
       call     [FastPt.Hardware.Cpu`1[FastPt.Mm.FrameMap]:TranslateAfterFault(ulong,int,FastPt.PageFault,byref):bool:this]
       nop      
 
G_M000_IG61:                ;; offset=0x0A02
       vzeroupper 
       add      rsp, 280
       pop      rbx
       pop      r12
       pop      r13
       pop      r14
       pop      r15
       pop      rbp
       ret      
 
G_M000_IG62:                ;; offset=0x0A17
       sub      rsp, 24
 
G_M000_IG63:                ;; offset=0x0A1B
       mov      rdi, bword ptr [rbp-0x108]
       mov      rcx, gword ptr [rdi+0x18]
       xor      r8d, r8d
       mov      dword ptr [rcx+0x18], r8d
 
G_M000_IG64:                ;; offset=0x0A2D
       vzeroupper 
       add      rsp, 24
       ret      
 
; Total bytes of code 2613

