// @ts-check
/** Widget strings in English and Russian, chosen from the page language. */

const STRINGS = {
  en: {
    title: "Chat with us",
    placeholder: "Type a message…",
    send: "Send",
    open: "Open chat",
    close: "Close chat",
    connecting: "Connecting…",
    live: "Online",
    reconnecting: "Reconnecting…",
    offline: "Offline — messages will arrive when you are back",
    closed: "Disconnected",
    error: "Chat unavailable",
    forbidden: "This chat is not available on this site.",
    sending: "Sending…",
    failed: "Not sent — tap to retry",
    operatorTyping: "Operator is typing…",
    assistantTyping: "Assistant is typing…",
    unread: "unread messages",
    earlier: "Earlier chats",
    back: "Back",
    queuePosition: "You are number {n} in the queue",
    queueWait: "about {m} min",
    queueNobody: "No operator is online right now; the assistant keeps helping you.",
    rateTitle: "How was this conversation?",
    rateComment: "Anything to add? (optional)",
    rateSend: "Send rating",
    rateThanks: "Thank you for your feedback!",
    rated: "You rated this conversation",
  },
  ru: {
    title: "Напишите нам",
    placeholder: "Введите сообщение…",
    send: "Отправить",
    open: "Открыть чат",
    close: "Закрыть чат",
    connecting: "Подключение…",
    live: "В сети",
    reconnecting: "Переподключение…",
    offline: "Нет сети — сообщения придут, когда связь вернётся",
    closed: "Отключено",
    error: "Чат недоступен",
    forbidden: "Этот чат недоступен на этом сайте.",
    sending: "Отправка…",
    failed: "Не отправлено — нажмите, чтобы повторить",
    operatorTyping: "Оператор печатает…",
    assistantTyping: "Ассистент печатает…",
    unread: "непрочитанных сообщений",
    earlier: "Прошлые чаты",
    back: "Назад",
    queuePosition: "Вы {n}-й в очереди",
    queueWait: "примерно {m} мин",
    queueNobody: "Сейчас нет операторов в сети; ассистент продолжит помогать.",
    rateTitle: "Как прошёл разговор?",
    rateComment: "Хотите что-то добавить? (необязательно)",
    rateSend: "Отправить оценку",
    rateThanks: "Спасибо за отзыв!",
    rated: "Вы оценили разговор",
  },
};

/** @typedef {typeof STRINGS.en} Strings */

/**
 * @param {string | null | undefined} lang e.g. document.documentElement.lang
 * @returns {Strings}
 */
export function strings(lang) {
  return (lang || "").toLowerCase().startsWith("ru") ? STRINGS.ru : STRINGS.en;
}
