"""The words and names the synthetic stream (``generator.SyntheticStream``) draws from.

Brand and group names, platforms, languages, campaigns, currencies; the texts of mentions,
service requests and the brands' own posts in seven languages, with hashtags and emoji by
polarity; and the authors' countries, age bands and genders with their weights. Plain data,
no logic: extend a table here (keeping each table's shape) to widen what is generated.
"""

from __future__ import annotations

from typing import Final

DEFAULT_BRANDS: Final[tuple[str, ...]] = (
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "stark",
    "wayne",
    "wonka",
    "cyberdyne",
    "soylent",
)
COMPETITOR_GROUP: Final[str] = "market"

SOCIAL_PLATFORMS: Final[tuple[str, ...]] = (
    "x",
    "instagram",
    "facebook",
    "linkedin",
    "tiktok",
    "youtube",
    "mastodon",
    "bluesky",
)
LANGUAGES: Final[tuple[str, ...]] = ("en", "es", "de", "pl", "fa", "ar", "vi")
CAMPAIGN_NAMES: Final[tuple[str, ...]] = (
    "spring-sale",
    "summer-drop",
    "back-to-school",
    "black-friday",
    "holiday-gifts",
    "launch-x1",
    "brand-love",
    "loyalty-club",
    "new-year-deals",
    "eco-line",
    "creator-collab",
    "app-download",
)
VARIANTS: Final[tuple[str, str]] = ("a", "b")

CURRENCIES: Final = ("EUR", "USD", "USD", "GBP", "USD", "USD", "USD", "GBP", "EUR", "EUR")

# ---------------------------------------------------------------------------------------
# texts: {lang: (negative, neutral, positive)}; "{b}" is the brand's display name
# ---------------------------------------------------------------------------------------
TextBank = dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]

VOICE: Final[TextBank] = {
    "en": (
        (
            "{b} charged me twice and nobody answers the phone",
            "Worst customer service ever, shame on you {b}",
            "My {b} order is two weeks late and still no update",
            "The new {b} update broke everything, so frustrating",
            "Never buying from {b} again, total waste of money",
            "Is {b} down again? Third outage this week",
        ),
        (
            "Does anyone know when the {b} store opens on Sunday?",
            "{b} announced a new product line today",
            "Comparing {b} with a couple of other options before I decide",
            "Saw a {b} ad on the train this morning",
            "Anyone here using {b} for work?",
        ),
        (
            "Just tried the new {b} app and honestly it's great",
            "Shoutout to {b} support, they fixed my issue in five minutes",
            "{b} keeps getting better, really impressed with the latest update",
            "Best purchase this year, thank you {b}!",
            "My order from {b} arrived a day early, love it",
            "Switched to {b} last month and never looking back",
        ),
    ),
    "es": (
        (
            "{b} me cobró dos veces y nadie contesta",
            "Pésimo servicio al cliente, qué vergüenza {b}",
            "Mi pedido de {b} lleva dos semanas de retraso",
            "La nueva actualización de {b} lo ha roto todo",
            "No vuelvo a comprar en {b}, una pérdida de dinero",
        ),
        (
            "¿Alguien sabe a qué hora abre la tienda de {b} el domingo?",
            "{b} presentó hoy una nueva línea de productos",
            "Estoy comparando {b} con otras opciones antes de decidir",
            "Vi un anuncio de {b} en el metro esta mañana",
        ),
        (
            "Acabo de probar la nueva app de {b} y me encanta",
            "Gracias a {b} por la atención tan rápida, problema resuelto",
            "El pedido de {b} llegó antes de lo previsto, ¡genial!",
            "{b} sigue mejorando, muy contenta con la última actualización",
            "La mejor compra del año, gracias {b}",
        ),
    ),
    "de": (
        (
            "{b} hat mir zweimal abgebucht und niemand geht ans Telefon",
            "Schlechtester Kundenservice überhaupt, schämt euch {b}",
            "Meine Bestellung bei {b} ist seit zwei Wochen überfällig",
            "Das neue Update von {b} hat alles kaputt gemacht",
            "Nie wieder {b}, totale Geldverschwendung",
        ),
        (
            "Weiß jemand, wann der {b} Laden am Samstag öffnet?",
            "{b} hat heute eine neue Produktlinie vorgestellt",
            "Ich vergleiche {b} gerade mit anderen Anbietern",
            "Heute Morgen Werbung von {b} in der U-Bahn gesehen",
        ),
        (
            "Gerade die neue App von {b} ausprobiert, echt super",
            "Danke an den {b} Support, Problem in fünf Minuten gelöst",
            "Meine Bestellung bei {b} kam einen Tag früher an, top!",
            "{b} wird immer besser, das letzte Update ist klasse",
            "Bester Kauf des Jahres, danke {b}",
        ),
    ),
    "pl": (
        (
            "{b} pobrał opłatę dwa razy i nikt nie odbiera telefonu",
            "Najgorsza obsługa klienta, wstyd {b}",
            "Moje zamówienie z {b} spóźnia się już dwa tygodnie",
            "Nowa aktualizacja {b} wszystko zepsuła",
            "Nigdy więcej {b}, strata pieniędzy",
        ),
        (
            "Czy ktoś wie, o której otwiera się sklep {b} w sobotę?",
            "{b} zaprezentował dziś nową linię produktów",
            "Porównuję {b} z innymi ofertami przed decyzją",
            "Widziałem dziś rano reklamę {b} w tramwaju",
        ),
        (
            "Właśnie przetestowałem nową aplikację {b} i jest świetna",
            "Dzięki {b} za szybką pomoc, problem rozwiązany",
            "Zamówienie z {b} przyszło dzień wcześniej, super!",
            "{b} jest coraz lepszy, ostatnia aktualizacja robi wrażenie",
            "Najlepszy zakup w tym roku, dziękuję {b}",
        ),
    ),
    "fa": (
        (
            "{b} دو بار از حسابم پول کم کرد و کسی جواب نمیده",
            "بدترین خدمات مشتری، واقعا شرم‌آوره {b}",
            "سفارشم از {b} دو هفته است که نرسیده",
            "آپدیت جدید {b} همه چیز رو خراب کرد",
            "دیگه هرگز از {b} خرید نمی‌کنم، پولم هدر رفت",
        ),
        (
            "کسی می‌دونه فروشگاه {b} جمعه‌ها ساعت چند باز میشه؟",
            "{b} امروز یک خط تولید جدید معرفی کرد",
            "دارم {b} رو با گزینه‌های دیگه مقایسه می‌کنم",
            "امروز صبح تبلیغ {b} رو تو مترو دیدم",
        ),
        (
            "همین الان اپلیکیشن جدید {b} رو امتحان کردم، عالیه",
            "ممنون از پشتیبانی {b}، مشکلم در پنج دقیقه حل شد",
            "سفارشم از {b} یک روز زودتر رسید، خیلی راضیم",
            "{b} هر روز بهتر میشه، آپدیت جدید فوق‌العاده است",
            "بهترین خرید امسالم بود، مرسی {b}",
        ),
    ),
    "ar": (
        (
            "{b} خصم المبلغ مرتين ولا أحد يرد على الهاتف",
            "أسوأ خدمة عملاء على الإطلاق، عيب عليكم يا {b}",
            "طلبي من {b} متأخر منذ أسبوعين بدون أي تحديث",
            "التحديث الجديد من {b} أفسد كل شيء",
            "لن أشتري من {b} مرة أخرى، مضيعة للمال",
        ),
        (
            "هل يعرف أحد متى يفتح متجر {b} يوم الجمعة؟",
            "أعلنت {b} اليوم عن خط منتجات جديد",
            "أقارن {b} مع خيارات أخرى قبل أن أقرر",
            "رأيت إعلان {b} في المترو هذا الصباح",
        ),
        (
            "جربت تطبيق {b} الجديد وهو رائع جدا",
            "شكرا لفريق دعم {b}، تم حل مشكلتي في خمس دقائق",
            "وصل طلبي من {b} قبل موعده بيوم، ممتاز",
            "{b} يتحسن باستمرار، التحديث الأخير مذهل",
            "أفضل عملية شراء هذا العام، شكرا {b}",
        ),
    ),
    "vi": (
        (
            "{b} trừ tiền hai lần mà không ai nghe máy",
            "Dịch vụ khách hàng tệ nhất từng thấy, {b} thật đáng xấu hổ",
            "Đơn hàng của tôi từ {b} trễ hai tuần rồi vẫn chưa có tin gì",
            "Bản cập nhật mới của {b} làm hỏng hết mọi thứ",
            "Không bao giờ mua của {b} nữa, phí tiền",
        ),
        (
            "Có ai biết cửa hàng {b} mở cửa lúc mấy giờ vào Chủ nhật không?",
            "{b} vừa giới thiệu dòng sản phẩm mới hôm nay",
            "Đang so sánh {b} với vài lựa chọn khác trước khi quyết định",
            "Sáng nay thấy quảng cáo của {b} trên xe buýt",
        ),
        (
            "Vừa dùng thử ứng dụng mới của {b}, rất tuyệt",
            "Cảm ơn đội hỗ trợ của {b}, vấn đề được giải quyết trong năm phút",
            "Đơn hàng từ {b} đến sớm một ngày, quá thích",
            "{b} ngày càng tốt hơn, bản cập nhật mới rất ấn tượng",
            "Món đồ đáng mua nhất năm nay, cảm ơn {b}",
        ),
    ),
}

# customer-service requests: negative and neutral only
SERVICE: Final[TextBank] = {
    "en": (
        (
            "@{b} my package never arrived, please check my DM",
            "@{b} I was charged twice and need a refund asap",
            "@{b} I can't log into my account since yesterday",
        ),
        (
            "@{b} how do I change the delivery address on my order?",
            "@{b} is there a warranty on the X1?",
        ),
        (),
    ),
    "es": (
        (
            "@{b} mi paquete nunca llegó, ¿me pueden ayudar?",
            "@{b} me cobraron dos veces, necesito un reembolso",
        ),
        ("@{b} ¿cómo cambio la dirección de envío de mi pedido?",),
        (),
    ),
    "de": (
        (
            "@{b} mein Paket ist nie angekommen, bitte um Hilfe",
            "@{b} mir wurde doppelt abgebucht, ich brauche eine Erstattung",
        ),
        ("@{b} wie ändere ich die Lieferadresse meiner Bestellung?",),
        (),
    ),
    "pl": (
        (
            "@{b} moja paczka nie dotarła, proszę o pomoc",
            "@{b} pobraliście opłatę dwa razy, proszę o zwrot",
        ),
        ("@{b} jak zmienić adres dostawy zamówienia?",),
        (),
    ),
    "fa": (
        (
            "@{b} بسته‌ام هنوز نرسیده، لطفا کمک کنید",
            "@{b} دو بار از حسابم پول کم شده، لطفا برگردونید",
        ),
        ("@{b} چطور آدرس ارسال سفارشم رو عوض کنم؟",),
        (),
    ),
    "ar": (
        (
            "@{b} طردي لم يصل حتى الآن، أرجو المساعدة",
            "@{b} تم خصم المبلغ مرتين، أحتاج إلى استرداد المبلغ",
        ),
        ("@{b} كيف أغير عنوان التوصيل لطلبي؟",),
        (),
    ),
    "vi": (
        (
            "@{b} gói hàng của tôi vẫn chưa tới, giúp tôi với",
            "@{b} tôi bị trừ tiền hai lần, cần hoàn tiền gấp",
        ),
        ("@{b} làm sao để đổi địa chỉ giao hàng cho đơn của tôi?",),
        (),
    ),
}

# the brand's own posts: neutral and positive only
POSTS: Final[TextBank] = {
    "en": (
        (),
        (
            "{b} stores will close early on Friday for inventory",
            "New on the {b} blog: how we test our products",
        ),
        (
            "Our new collection is here! Shop now at {b}",
            "Thank you for ten years of {b}, this community means everything",
        ),
    ),
    "es": (
        (),
        ("Las tiendas {b} cerrarán antes el viernes por inventario",),
        ("¡Ya llegó la nueva colección de {b}! Descúbrela hoy",),
    ),
    "de": (
        (),
        ("Die {b} Filialen schließen am Freitag früher wegen Inventur",),
        ("Die neue Kollektion von {b} ist da! Jetzt entdecken",),
    ),
    "pl": (
        (),
        ("Sklepy {b} w piątek będą czynne krócej z powodu inwentaryzacji",),
        ("Nowa kolekcja {b} już jest! Sprawdź dziś",),
    ),
    "fa": (
        (),
        ("فروشگاه‌های {b} پنجشنبه به دلیل انبارگردانی زودتر تعطیل می‌شوند",),
        ("کالکشن جدید {b} رسید! همین امروز ببینید",),
    ),
    "ar": (
        (),
        ("ستغلق متاجر {b} مبكرا يوم الخميس بسبب الجرد",),
        ("وصلت مجموعة {b} الجديدة! اكتشفوها اليوم",),
    ),
    "vi": (
        (),
        ("Các cửa hàng {b} sẽ đóng cửa sớm vào thứ Sáu để kiểm kê",),
        ("Bộ sưu tập mới của {b} đã có mặt! Khám phá ngay hôm nay",),
    ),
}

# hashtags by language and polarity (negative, neutral, positive), without "#"
HASHTAGS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]] = {
    "en": (("fail", "disappointed"), ("question", "news"), ("love", "happycustomer")),
    "es": (("decepcionado", "queja"), ("pregunta", "noticias"), ("feliz", "recomendado")),
    "de": (("enttäuscht", "ärgerlich"), ("frage", "neuigkeiten"), ("toll", "empfehlung")),
    "pl": (("rozczarowanie", "skandal"), ("pytanie", "nowości"), ("polecam", "super")),
    "fa": (("افتضاح", "نارضایتی"), ("سوال", "خبر"), ("عالی", "پیشنهاد")),
    "ar": (("سيء", "شكوى"), ("سؤال", "أخبار"), ("رائع", "أنصح_به")),
    "vi": (("thatvong", "tehai"), ("hoidap", "tintuc"), ("tuyetvoi", "dangmua")),
}
EMOJI: Final = (("😡", "👎", "💔"), ("🤔", "👀"), ("😍", "🔥", "👏"))

# author countries: (ISO 3166 code, weight, index into LANGUAGES they mostly write in)
COUNTRIES: Final[tuple[tuple[str, float, int], ...]] = (
    ("US", 18, 0), ("GB", 7, 0), ("IN", 5, 0), ("CA", 3, 0), ("AU", 2, 0), ("NG", 2, 0),
    ("FR", 3, 0), ("IT", 2, 0), ("BR", 3, 0), ("NL", 2, 0),
    ("ES", 6, 1), ("MX", 6, 1), ("AR", 3, 1), ("CO", 2, 1),
    ("DE", 8, 2), ("AT", 1, 2), ("CH", 1, 2),
    ("PL", 6, 3),
    ("IR", 7, 4),
    ("EG", 4, 5), ("SA", 3, 5), ("AE", 2, 5), ("MA", 1, 5),
    ("VN", 7, 6),
)  # fmt: skip
AGE_BANDS: Final = ((13, 17, 6), (18, 24, 24), (25, 34, 30), (35, 44, 19), (45, 54, 11),
                     (55, 64, 7), (65, 80, 3))  # fmt: skip
GENDERS: Final = (("female", 49), ("male", 47), ("nonbinary", 2), ("undisclosed", 2))
