"""The consent texts this release publishes. A published text is frozen:
never edit one here; a change is a new version (a new entry and a data
migration that publishes it). Migration 0005 publishes version 1, and
workers.services.consent_text_ensure publishes it again on a database that
has no text at all (one emptied since, as transactional tests do).
"""

# ruff: noqa: E501  (each paragraph of a consent text is one line)
from __future__ import annotations

from datetime import UTC, datetime

INITIAL_VERSION = 1
INITIAL_PUBLISHED_AT = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)

INITIAL_TEXT_EN = """What is collected
While you wear the healthhub wearable: heart rate, blood oxygen (SpO₂), skin temperature and estimated core body temperature, breathing rate, heart rate variability, steps, falls and SOS presses, the temperature and humidity around you, and the wearable's battery level. Also what you enter in the daily check-in: your temperature and symptoms.

Why
To warn you and the occupational health clinic early about heat strain, low blood oxygen, falls, possible illness and outbreaks in the industrial complex, so that you can rest or get help in time. It is not used to judge your work.

Who can see it
You, and the occupational health clinicians of your site. Your employer's HR staff and managers never see your individual data: they see only anonymised figures about groups of at least five people. Every time a clinician looks at your data it is recorded, and you can see that record in the portal under Privacy.

For how long
Detailed readings are kept for 90 days; after that only per-minute summaries are kept, for at most 3 years. Alerts, check-ins and the record of who viewed your data are kept for 3 years.

Your choice
Taking part is voluntary. You can withdraw your consent at any time in the portal under Privacy: monitoring stops at once, your wearable is disconnected and nothing new is collected. Refusing or withdrawing will not be held against you. You can download all your data at any time under My data."""

INITIAL_TEXT_KO = """수집하는 정보
healthhub 웨어러블을 착용하는 동안의 심박수, 혈중 산소포화도(SpO₂), 피부 온도와 추정 심부 체온, 호흡수, 심박 변이도, 걸음 수, 넘어짐과 SOS 버튼 누름, 주변 온도와 습도, 웨어러블 배터리 잔량. 그리고 매일 건강 체크에 입력하는 체온과 증상.

수집 목적
온열 부담, 혈중 산소 저하, 넘어짐, 질병 의심, 산업단지 안의 감염병 확산을 본인과 사업장 보건실에 일찍 알려, 제때 쉬거나 도움을 받을 수 있게 하기 위해서입니다. 업무 평가에는 쓰지 않습니다.

볼 수 있는 사람
본인과 소속 사업장의 보건 의료진만 볼 수 있습니다. 회사의 인사 담당자와 관리자는 개인의 정보를 볼 수 없고, 5명 이상 집단의 익명 통계만 봅니다. 의료진이 내 정보를 볼 때마다 기록이 남으며, 포털의 '개인정보'에서 그 기록을 확인할 수 있습니다.

보관 기간
상세 측정값은 90일간 보관하고, 그 뒤에는 1분 단위 요약만 최대 3년간 보관합니다. 알림, 건강 체크, 열람 기록은 3년간 보관합니다.

선택할 권리
참여는 자유입니다. 포털의 '개인정보'에서 언제든지 동의를 철회할 수 있으며, 철회하면 모니터링이 즉시 멈추고 웨어러블 연결이 끊기며 새로운 정보는 수집되지 않습니다. 동의하지 않거나 철회해도 불이익은 없습니다. '내 데이터'에서 언제든지 내 정보 전체를 내려받을 수 있습니다."""

INITIAL_TEXT_VI = """Những gì được thu thập
Trong khi bạn đeo thiết bị healthhub: nhịp tim, oxy máu (SpO₂), nhiệt độ da và thân nhiệt lõi ước tính, nhịp thở, biến thiên nhịp tim, số bước, té ngã và lần bấm SOS, nhiệt độ và độ ẩm xung quanh bạn, và mức pin của thiết bị. Cùng với những gì bạn nhập trong khai báo sức khỏe hằng ngày: nhiệt độ và triệu chứng của bạn.

Vì sao
Để sớm báo cho bạn và phòng y tế lao động về căng thẳng nhiệt, oxy máu thấp, té ngã, nguy cơ bị bệnh và dịch bệnh trong khu công nghiệp, để bạn có thể nghỉ ngơi hoặc được giúp đỡ kịp thời. Thông tin này không được dùng để đánh giá công việc của bạn.

Ai có thể xem
Bạn, và các bác sĩ y tế lao động của địa điểm bạn làm việc. Bộ phận nhân sự và quản lý của công ty không bao giờ thấy dữ liệu cá nhân của bạn: họ chỉ thấy số liệu ẩn danh về các nhóm từ năm người trở lên. Mỗi lần bác sĩ xem dữ liệu của bạn đều được ghi lại, và bạn có thể xem bản ghi đó trong mục Quyền riêng tư của cổng thông tin.

Trong bao lâu
Chỉ số chi tiết được giữ 90 ngày; sau đó chỉ giữ bản tóm tắt theo từng phút, tối đa 3 năm. Cảnh báo, khai báo sức khỏe và bản ghi ai đã xem dữ liệu của bạn được giữ 3 năm.

Quyền lựa chọn của bạn
Việc tham gia là tự nguyện. Bạn có thể rút lại sự đồng ý bất cứ lúc nào trong mục Quyền riêng tư của cổng thông tin: việc theo dõi dừng ngay, thiết bị đeo bị ngắt kết nối và không có thông tin mới nào được thu thập. Việc từ chối hoặc rút lại sẽ không gây bất lợi gì cho bạn. Bạn có thể tải xuống toàn bộ dữ liệu của mình bất cứ lúc nào trong mục Dữ liệu của tôi."""

# Version 1 in every language it is published in, keyed by language code.
INITIAL_TEXTS = {"ko": INITIAL_TEXT_KO, "en": INITIAL_TEXT_EN, "vi": INITIAL_TEXT_VI}
